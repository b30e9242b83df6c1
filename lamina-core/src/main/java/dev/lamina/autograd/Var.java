package dev.lamina.autograd;

import dev.lamina.tensor.Tensor;

/**
 * A node of the graph: a value and, when gradients are recorded, its gradient (same shape).
 * grad is null on an inference tape or for inputs that need none.
 */
public record Var(Tensor value, Tensor grad) {
    public int size() { return value.size(); }
    public boolean requiresGrad() { return grad != null; }
}
