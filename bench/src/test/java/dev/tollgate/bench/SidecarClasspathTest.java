package dev.tollgate.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bench starts its sidecars with the class path the launcher gives them when it can tell what that is. */
class SidecarClasspathTest {
    @TempDir
    Path dir;

    @Test
    void theProxyJarAloneWhenEveryDependencyItNamesSitsBesideIt() throws IOException {
        Path proxy = jar("tollgate-proxy-0.1.0-SNAPSHOT.jar", "netty-common-1.jar caffeine-2.jar");
        jar("netty-common-1.jar", null);
        jar("caffeine-2.jar", null);
        Path other = jar("postgresql-3.jar", null);
        String full = String.join(File.pathSeparator, dir.resolve("bench.jar").toString(), other.toString(),
                proxy.toString());

        assertThat(SidecarProcess.sidecarClasspath(full)).isEqualTo(proxy.toString());
    }

    /** As the launcher's tollgate-sidecar.jar: the unsigned Bouncy Castle copies of sidecar-lib/ come first. */
    @Test
    void theUnsignedCopiesInSidecarLibBeforeTheProxyJarWhenThatDirectoryIsThere() throws IOException {
        Path lib = Files.createDirectories(dir.resolve("lib"));
        Path unsigned = Files.createDirectories(dir.resolve("sidecar-lib"));
        Path proxy = jar(lib, "tollgate-proxy-0.1.0-SNAPSHOT.jar",
                "bcprov-jdk18on-1.87.jar netty-common-1.jar bcpkix-jdk18on-1.87.jar");
        jar(lib, "bcprov-jdk18on-1.87.jar", null);
        jar(lib, "bcpkix-jdk18on-1.87.jar", null);
        jar(lib, "netty-common-1.jar", null);
        Path prov = jar(unsigned, "bcprov-jdk18on-1.87.jar", null);
        Path pkix = jar(unsigned, "bcpkix-jdk18on-1.87.jar", null);
        jar(unsigned, "bcprov-jdk18on-1.86.jar", null); // left by a build of another version: not named, not taken

        assertThat(SidecarProcess.sidecarClasspath(String.join(File.pathSeparator, dir.resolve("bench.jar").toString(),
                proxy.toString()))).isEqualTo(String.join(File.pathSeparator, prov.toString(), pkix.toString(),
                proxy.toString()));
    }

    @Test
    void theWholeClassPathWhenADependencyIsMissingOrTheJarNamesNone() throws IOException {
        Path proxy = jar("tollgate-proxy-0.1.0-SNAPSHOT.jar", "netty-common-1.jar caffeine-2.jar");
        jar("netty-common-1.jar", null);
        String full = String.join(File.pathSeparator, dir.resolve("classes").toString(), proxy.toString());
        assertThat(SidecarProcess.sidecarClasspath(full)).isEqualTo(full);

        Path bare = jar("tollgate-proxy-0.2.0.jar", null);
        assertThat(SidecarProcess.sidecarClasspath(bare.toString())).isEqualTo(bare.toString());
        String classesOnly = "/work/proxy/target/classes" + File.pathSeparator + "/work/api/target/classes";
        assertThat(SidecarProcess.sidecarClasspath(classesOnly)).isEqualTo(classesOnly);
    }

    private Path jar(String name, String classPath) throws IOException {
        return jar(dir, name, classPath);
    }

    private Path jar(Path in, String name, String classPath) throws IOException {
        Manifest m = new Manifest();
        m.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        if (classPath != null) {
            m.getMainAttributes().put(Attributes.Name.CLASS_PATH, classPath);
        }
        Path p = in.resolve(name);
        try (OutputStream out = Files.newOutputStream(p); JarOutputStream j = new JarOutputStream(out, m)) {
            j.flush();
        }
        return p;
    }
}
