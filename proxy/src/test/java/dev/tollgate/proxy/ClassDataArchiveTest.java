package dev.tollgate.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the launcher does for a sidecar (docs/sidecar.md, "Memory and start-up"): a training run under
 * {@code -XX:ArchiveClassesAtExit} writes a class-data archive with the classes a sidecar serves traffic with, and a
 * later start with {@code -XX:SharedArchiveFile} and the JVM options of {@code deploy/sidecar-jvm.options} loads them
 * from it. Real JVMs on a class path of jars (the JVM archives classes from jars only, as the launcher's are).
 */
class ClassDataArchiveTest {
    @TempDir
    Path dir;

    @Test
    void aTrainingRunArchivesTheClassesALaterSidecarLoadsFromIt() throws Exception {
        String classpath = jarredClassPath();
        Path options = Path.of("..", "deploy", "sidecar-jvm.options").toAbsolutePath().normalize();
        assertThat(options).as("the sidecar's JVM options file").isRegularFile();
        Path archive = dir.resolve("sidecar.jsa");

        Process train = java(List.of("@" + options, "-XX:ArchiveClassesAtExit=" + archive), classpath,
                dir.resolve("train.log"), "--training-run", "20");
        assertThat(train.exitValue()).as(Files.readString(dir.resolve("train.log"))).isZero();
        assertThat(archive).isRegularFile();

        Path loaded = dir.resolve("class-load.log");
        Process second = java(List.of("@" + options, "-XX:SharedArchiveFile=" + archive,
                "-Xlog:class+load=info:file=" + loaded), classpath, dir.resolve("second.log"), "--training-run", "4");
        assertThat(second.exitValue()).as(Files.readString(dir.resolve("second.log"))).isZero();
        List<String> lines = Files.readAllLines(loaded);
        for (String cls : List.of("dev.tollgate.proxy.Sidecar ", "io.netty.handler.ssl.ReferenceCountedOpenSslEngine ",
                "io.netty.handler.codec.http2.DefaultHttp2ConnectionDecoder ",
                "dev.tollgate.proxy.inspect.JsonRpcParser ")) {
            assertThat(lines).as(cls + "loaded from the archive")
                    .anyMatch(l -> l.contains(" " + cls) && l.contains("shared objects file (top)"));
        }
    }

    private Process java(List<String> opts, String classpath, Path log, String... args)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(opts);
        cmd.addAll(List.of("-cp", classpath, "dev.tollgate.proxy.SidecarMain"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(180, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("did not finish in 180 s: " + Files.readString(log));
        }
        return p;
    }

    /** This test's class path with every directory (the modules' classes) packed into a jar. */
    private String jarredClassPath() throws IOException {
        List<String> out = new ArrayList<>();
        int n = 0;
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            Path p = Path.of(entry);
            if (Files.isDirectory(p)) {
                if (p.toString().contains("test-classes")) {
                    continue;
                }
                Path jar = dir.resolve("classes-" + (n++) + ".jar");
                jar(p, jar);
                out.add(jar.toString());
            } else if (Files.isRegularFile(p)) {
                out.add(entry);
            }
        }
        return String.join(File.pathSeparator, out);
    }

    private static void jar(Path classes, Path jar) throws IOException {
        try (OutputStream o = Files.newOutputStream(jar); JarOutputStream j = new JarOutputStream(o);
             Stream<Path> files = Files.walk(classes)) {
            for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile).sorted()::iterator) {
                j.putNextEntry(new JarEntry(classes.relativize(f).toString().replace(File.separatorChar, '/')));
                Files.copy(f, j);
                j.closeEntry();
            }
        }
    }
}
