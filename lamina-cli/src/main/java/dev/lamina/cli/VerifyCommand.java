package dev.lamina.cli;

import dev.lamina.model.ParityCheck;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "verify", mixinStandardHelpOptions = true,
        description = "Check the engine against PyTorch test vectors: for every NAME.json + NAME.safetensors in DIR, "
                + "run forward and backward and compare logits, loss and every gradient.")
final class VerifyCommand implements Callable<Integer> {
    @Parameters(paramLabel = "DIR", description = "Directory of test vectors (e.g. ../shared/testvectors).")
    Path dir;

    @Override
    public Integer call() {
        List<Path> cases = ParityCheck.cases(dir);
        if (cases.isEmpty()) throw new dev.lamina.io.LaminaException(dir + ": no NAME.json + NAME.safetensors pairs found");
        int failed = 0;
        for (Path json : cases) {
            ParityCheck.CaseResult r = ParityCheck.run(json);
            for (ParityCheck.TensorResult t : r.tensors())
                System.out.printf("%-14s %-48s %s %.3e (<= %.0e)%n", r.name(), t.name(), t.passed() ? "ok  " : "FAIL",
                        t.error(), t.tolerance());
            if (!r.passed()) failed++;
        }
        System.out.printf("verified %d cases, %d failed%n", cases.size(), failed);
        return failed == 0 ? 0 : 1;
    }
}
