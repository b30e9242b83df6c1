# Sourced by the bench scripts. On a shared virtual machine the hypervisor can hand our CPUs to
# other guests ("steal" time in /proc/stat); a run that lost a large share is not comparable with
# one that lost none, so every figure is printed with the steal share over its run.
#   s=$(cpu_mark); ...run...; steal_pct "$s"    -> e.g. 3%
cpu_mark() { awk '/^cpu /{t=0; for (i=2; i<=NF; i++) t+=$i; print t, $9; exit}' /proc/stat; }
steal_pct() {
  local t0 s0; read -r t0 s0 <<<"$1"
  awk -v t0="$t0" -v s0="$s0" '/^cpu /{t=0; for (i=2; i<=NF; i++) t+=$i; d=t-t0; printf "%.0f%%", (d > 0 ? 100 * ($9 - s0) / d : 0); exit}' /proc/stat
}
