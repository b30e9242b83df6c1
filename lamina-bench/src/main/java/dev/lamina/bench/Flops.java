package dev.lamina.bench;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/** Counts floating-point work: JMH reports the "gflop" counter per second, i.e. GFLOP/s. */
@State(Scope.Thread)
@AuxCounters(AuxCounters.Type.OPERATIONS)
public class Flops {
    public double gflop;

    @Setup(Level.Iteration)
    public void reset() { gflop = 0; }
}
