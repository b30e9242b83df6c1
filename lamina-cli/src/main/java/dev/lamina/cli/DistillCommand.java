package dev.lamina.cli;

import picocli.CommandLine.Command;

/**
 * Knowledge distillation: `lamina train` with a teacher. The student (--student, --config or
 * --preset) trains on the data with the loss α·τ²·KL(softmax(t/τ) ‖ softmax(z/τ)) + (1−α)·CE
 * against the teacher's logits t, computed live each step; --resume goes on distilling.
 */
@Command(name = "distill", mixinStandardHelpOptions = true,
        description = "Train a student on prepared data against a teacher's logits: alpha·tau²·KL + (1 - alpha)·CE.")
final class DistillCommand extends TrainCommand {
    @Override boolean distills() { return true; }
}
