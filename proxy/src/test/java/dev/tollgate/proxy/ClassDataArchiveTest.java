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
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the launcher does for a sidecar (docs/sidecar.md, "Memory and start-up"): a training run under
 * {@code -XX:ArchiveClassesAtExit} writes a class-data archive with the classes a sidecar serves traffic with, those
 * of an enforcing sidecar (joined to a control plane, task credentials required) included, and a later start with
 * {@code -XX:SharedArchiveFile} and the JVM options of {@code deploy/sidecar-jvm.options} loads them from it. Real
 * JVMs on a class path of jars (the JVM archives classes from jars only, as the launcher's are; signed jars, Bouncy
 * Castle's, replaced by unsigned copies as in the launcher's sidecar-lib/).
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
        // What only an enforcing sidecar loads (the training run's enforcing pair, joined to its training control
        // plane), and the training control plane in the same JVM does not: the enrolment (its CSR built with Bouncy
        // Castle, from unsigned copies as the launcher's sidecar-lib/), the control-plane client, the watch and the
        // credential state, the credential gate, the exchange client and the decision shipper. (Token parsing, the
        // ES256 check and the wire records are loaded by both sides, so their presence here would prove nothing; the
        // training run itself fails unless the pair exchanged a token and shipped decisions.)
        for (String cls : List.of("org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder ",
                "dev.tollgate.proxy.identity.ControlPlaneCertificateSource ",
                "dev.tollgate.proxy.controlplane.ControlPlaneTransport ", "dev.tollgate.api.client.WatchClient ",
                "dev.tollgate.proxy.credential.CredentialWatchListener ",
                "dev.tollgate.proxy.credential.CredentialGate ",
                "dev.tollgate.proxy.credential.ExchangeClient ", "dev.tollgate.proxy.decision.DecisionShipper ")) {
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
                out.add(signed(p) ? unsigned(p).toString() : entry);
            }
        }
        return String.join(File.pathSeparator, out);
    }

    /** Whether a jar is signed (the JVM archives no class from a signed jar). */
    private static boolean signed(Path jar) throws IOException {
        try (JarFile j = new JarFile(jar.toFile(), false)) {
            return j.stream().anyMatch(e -> isSignature(e.getName()));
        }
    }

    private static boolean isSignature(String name) {
        return name.startsWith("META-INF/") && name.indexOf('/', 9) < 0
                && (name.endsWith(".SF") || name.endsWith(".RSA") || name.endsWith(".DSA") || name.endsWith(".EC"));
    }

    /**
     * A copy of a signed jar without its signature and per-class digests, as build/unsigned-jars.xml makes the
     * launcher's sidecar-lib/ copies of Bouncy Castle's jars (the sidecar loads it from them).
     */
    private Path unsigned(Path jar) throws IOException {
        Path copy = dir.resolve("unsigned-" + jar.getFileName());
        Manifest manifest = new Manifest();
        manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        manifest.getMainAttributes().put(Attributes.Name.MULTI_RELEASE, "true");
        try (JarFile in = new JarFile(jar.toFile(), false);
             JarOutputStream out = new JarOutputStream(Files.newOutputStream(copy), manifest)) {
            for (JarEntry e : (Iterable<JarEntry>) in.stream()::iterator) {
                if (e.isDirectory() || e.getName().equals(JarFile.MANIFEST_NAME) || isSignature(e.getName())) {
                    continue;
                }
                out.putNextEntry(new JarEntry(e.getName()));
                try (var data = in.getInputStream(e)) {
                    data.transferTo(out);
                }
                out.closeEntry();
            }
        }
        return copy;
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
