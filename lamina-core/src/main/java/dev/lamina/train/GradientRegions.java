package dev.lamina.train;

import dev.lamina.model.Parameters;
import dev.lamina.model.Role;

/**
 * The flat gradient cut where backward finishes with it. Backward walks the layers from the top, and
 * once it has passed a layer's first op ({@link dev.lamina.autograd.Tape#onLayerDone}) that layer's
 * parameters' gradients are final. Region 0 is [0, span[0]): the embeddings (placed before the
 * layers; the head's own table when the two are tied), final after backward. Region 1 + l is layer
 * l's [span[l], span[l + 1]). Region L + 1 is [span[L], count): the final norm and the head, final
 * once backward has passed the final norm's mark (L) when nothing else sits after the layers
 * ({@link #topEarly}), else after backward.
 */
record GradientRegions(int[] span, int count, boolean topEarly) {

    /** The regions of params' layout, or null when a layer's parameters are not one block placed right after the previous layer's. */
    static GradientRegions of(Parameters params, int layers) {
        int[] lo = new int[layers], hi = new int[layers];
        java.util.Arrays.fill(lo, Integer.MAX_VALUE);
        for (Parameters.Slot s : params.slots().values()) {
            if (s.layer() < 0) continue;
            if (s.layer() >= layers) return null;
            lo[s.layer()] = Math.min(lo[s.layer()], s.offset());
            hi[s.layer()] = Math.max(hi[s.layer()], s.offset() + s.size());
        }
        int[] span = new int[layers + 1];
        for (int l = 0; l < layers; l++) {
            if (lo[l] == Integer.MAX_VALUE) return null;                            // a layer without parameters
            if (l > 0 && lo[l] != span[l]) return null;                             // not right after the previous layer
            if (l == 0) span[0] = lo[0];
            span[l + 1] = hi[l];
        }
        if (layers == 0) span[0] = params.count();
        long inLayers = 0;
        for (Parameters.Slot s : params.slots().values()) if (s.layer() >= 0) inLayers += s.size();
        if (inLayers != span[layers] - span[0]) return null;                         // something else between layers
        boolean topEarly = true;                       // only the final norm and the head after the layers: final at the final norm's mark
        for (Parameters.Slot s : params.slots().values())
            if (s.offset() >= span[layers] && s.role() != Role.FINAL_NORM && s.role() != Role.HEAD) topEarly = false;
        return new GradientRegions(span, params.count(), topEarly);
    }

    int layers() { return span.length - 1; }

    /** Regions: the embeddings, each layer, the final norm and head. */
    int regions() { return span.length + 1; }

    int start(int r) { return r == 0 ? 0 : span[r - 1]; }

    int end(int r) { return r == span.length ? count : span[r]; }

    int size(int r) { return end(r) - start(r); }

    /** The region holding flat offset i. */
    int regionOf(int i) {
        if (i < span[0]) return 0;
        if (i >= span[span.length - 1]) return span.length;
        int lo = 0, hi = span.length - 1;              // span[lo] <= i < span[hi]
        while (hi - lo > 1) {
            int mid = (lo + hi) >>> 1;
            if (span[mid] <= i) lo = mid;
            else hi = mid;
        }
        return 1 + lo;
    }
}
