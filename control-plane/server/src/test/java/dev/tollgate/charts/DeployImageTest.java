package dev.tollgate.charts;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

/**
 * deploy/Dockerfile (no docker engine runs here, so what can be checked without building): what it copies is what
 * the build produces or the repository holds, the launcher script runs the copied jar, it runs as the numeric
 * non-root user the chart expects, and the chart's default image is the one the documented command builds.
 */
class DeployImageTest {
    private static final Path ROOT = ChartFiles.repoRoot();
    private static final Pattern COPY = Pattern.compile("^COPY (?:--chmod=\\d+ )?(\\S+) (\\S+)$", Pattern.MULTILINE);

    private static String dockerfile() throws IOException {
        return Files.readString(ROOT.resolve("deploy/Dockerfile"));
    }

    private static List<String[]> copies() throws IOException {
        List<String[]> out = new ArrayList<>();
        Matcher m = COPY.matcher(dockerfile());
        while (m.find()) {
            out.add(new String[] {m.group(1), m.group(2)});
        }
        return out;
    }

    private static String appVersion() {
        return ChartFiles.readYaml(ROOT.resolve("charts/tollgate/Chart.yaml")).path("appVersion").asText();
    }

    @Test
    void isAJre17ImageRunningAsANumericNonRootUser() throws IOException {
        String d = dockerfile();
        assertThat(d).containsPattern("(?m)^FROM eclipse-temurin:17-jre$");
        Matcher user = Pattern.compile("(?m)^USER (\\d+):(\\d+)$").matcher(d);
        assertThat(user.find()).as("a numeric USER").isTrue();
        int uid = Integer.parseInt(user.group(1));
        assertThat(uid).isPositive();
        JsonNode values = ChartFiles.readYaml(ROOT.resolve("charts/tollgate/values.yaml"));
        assertThat(values.at("/controlPlane/podSecurityContext/runAsUser").asInt()).isEqualTo(uid);
        assertThat(values.at("/webhook/podSecurityContext/runAsUser").asInt()).isEqualTo(uid);
        assertThat(d).containsPattern("(?m)^ENV JAVA_TOOL_OPTIONS=\"[^\"]*-XX:MaxRAMPercentage=\\d+[^\"]*-Djava.io.tmpdir=/tmp");
    }

    @Test
    void copiesWhatTheBuildProducesAndTheLauncherRunsIt() throws IOException {
        // The jar and lib/ are the CLI module's build output: its finalName and the dependency plugin's directory.
        String cliPom = Files.readString(ROOT.resolve("control-plane/cli/pom.xml"));
        assertThat(cliPom).contains("<finalName>tollgate</finalName>")
                .contains("<outputDirectory>${project.build.directory}/lib</outputDirectory>")
                .contains("<classpathPrefix>lib/</classpathPrefix>");
        List<String[]> copies = copies();
        assertThat(copies).extracting(c -> c[0]).containsExactly("control-plane/cli/target/lib/",
                "control-plane/cli/target/sidecar-lib/",
                "control-plane/cli/target/tollgate.jar", "control-plane/cli/target/tollgate-sidecar.jar",
                "deploy/tollgate.sh", "deploy/sidecar-jvm.options");
        assertThat(cliPom).as("the sidecar jar: the unsigned Bouncy Castle copies of sidecar-lib/, then the proxy jar "
                        + "(beside its dependencies in lib/) on its class path")
                .contains("<classifier>sidecar</classifier>")
                .contains("<Class-Path>sidecar-lib/bcprov-jdk18on-${bouncycastle.version}.jar "
                        + "sidecar-lib/bcpkix-jdk18on-${bouncycastle.version}.jar "
                        + "sidecar-lib/bcutil-jdk18on-${bouncycastle.version}.jar "
                        + "lib/tollgate-proxy-${project.version}.jar</Class-Path>")
                .contains("<property name=\"to.dir\" value=\"${project.build.directory}/sidecar-lib\"/>")
                .contains("<mainClass>dev.tollgate.proxy.SidecarMain</mainClass>");
        Path script = ROOT.resolve("deploy/tollgate.sh");
        assertThat(Files.isExecutable(script)).isTrue();
        String jarInImage = copies.get(2)[1];
        String libInImage = copies.get(0)[1];
        assertThat(libInImage).as("lib/ beside the jar, as its manifest class path says")
                .isEqualTo(Path.of(jarInImage).getParent() + "/lib/");
        assertThat(copies.get(1)[1]).as("sidecar-lib/ beside the sidecar jar, as its manifest class path says")
                .isEqualTo(Path.of(jarInImage).getParent() + "/sidecar-lib/");
        assertThat(Files.readString(script)).contains("exec java ${TOLLGATE_JAVA_OPTS:-} -jar " + jarInImage + " \"$@\"");
        // The sidecar: its own jar beside the launcher's (the same lib/), its options file and the archive the image
        // build makes with the same jar path and options.
        String sidecarJar = copies.get(3)[1];
        assertThat(Path.of(sidecarJar).getParent()).isEqualTo(Path.of(jarInImage).getParent());
        String options = copies.get(5)[1];
        assertThat(Files.readString(script)).contains("exec java @" + options + " -XX:SharedArchiveFile=/opt/tollgate/"
                + "sidecar.jsa ${TOLLGATE_JAVA_OPTS:-} -jar " + sidecarJar + " \"$@\"");
        assertThat(dockerfile()).contains("RUN java @" + options + " -XX:ArchiveClassesAtExit=/opt/tollgate/sidecar.jsa "
                + "\\\n        -jar " + sidecarJar + " --training-run");
        assertThat(dockerfile()).contains("ENTRYPOINT [\"" + copies.get(4)[1] + "\"]");
    }

    @Test
    void dockerignoreLetsThroughEverythingTheImageCopies() throws IOException {
        List<String> rules = Files.readAllLines(ROOT.resolve(".dockerignore")).stream()
                .filter(l -> !l.isBlank() && !l.startsWith("#")).toList();
        assertThat(rules.get(0)).isEqualTo("*");
        for (String[] c : copies()) {
            String source = c[0].endsWith("/") ? c[0].substring(0, c[0].length() - 1) : c[0];
            assertThat(rules).as("re-included: %s", source).contains("!" + source);
        }
    }

    @Test
    void theChartsDefaultImageIsTheOneTheDocumentedCommandBuilds() throws IOException {
        String tag = "tollgate:" + appVersion();
        String command = "docker build -f deploy/Dockerfile -t " + tag + " .";
        assertThat(dockerfile()).contains(command);
        assertThat(Files.readString(ROOT.resolve("docs/install.md"))).contains(command);
        JsonNode values = ChartFiles.readYaml(ROOT.resolve("charts/tollgate/values.yaml"));
        assertThat(values.at("/image/repository").asText() + ":" + appVersion()).isEqualTo(tag);
        assertThat(values.at("/image/tag").asText()).as("empty: the chart's appVersion").isEmpty();
    }
}
