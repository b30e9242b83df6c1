package dev.lamina;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** Compiles and runs exactly the Java example of the README, on a small corpus. */
class ReadmeExampleTest {

    @Test
    void readmeExampleCompilesAndRuns(@TempDir Path dir) throws Exception {
        String readme = Files.readString(Path.of("..", "README.md"));
        Matcher m = Pattern.compile("```java\n(.*?)```", Pattern.DOTALL).matcher(readme);
        assertThat(m.find()).as("README has a ```java example").isTrue();
        String source = m.group(1);
        Matcher cls = Pattern.compile("public class (\\w+)").matcher(source);
        assertThat(cls.find()).isTrue();
        Path src = dir.resolve(cls.group(1) + ".java");
        Files.writeString(src, source);

        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        ByteArrayOutputStream errors = new ByteArrayOutputStream();
        int rc = javac.run(null, errors, errors, "-d", dir.toString(), "-cp", System.getProperty("java.class.path"),
                "--add-modules", "jdk.incubator.vector", src.toString());
        assertThat(rc).as(errors.toString()).isZero();

        StringBuilder corpus = new StringBuilder();
        for (int i = 0; i < 40; i++)
            corpus.append("The jury said the election was conducted well. The city was praised.\n\n");
        Path text = Files.writeString(dir.resolve("corpus.txt"), corpus);

        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (URLClassLoader loader = new URLClassLoader(new URL[]{dir.toUri().toURL()}, getClass().getClassLoader())) {
            System.setOut(new PrintStream(out, true));
            loader.loadClass(cls.group(1)).getMethod("main", String[].class)
                    .invoke(null, (Object) new String[]{text.toString(), dir.resolve("work").toString()});
        } finally {
            System.setOut(old);
        }
        assertThat(dir.resolve("work/run/model.safetensors")).exists();
        assertThat(out.toString()).startsWith("The jury");
    }
}
