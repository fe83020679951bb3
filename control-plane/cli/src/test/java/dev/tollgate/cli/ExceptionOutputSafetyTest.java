package dev.tollgate.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

import dev.tollgate.api.wire.ExceptionRequest;
import dev.tollgate.api.wire.ExceptionView;
import dev.tollgate.controlplane.TestControlPlane;

/**
 * What one operator writes into an exception reaches another operator's terminal through {@code ctl exception show}
 * and {@code list}: it must never forge a field or a row, reorder the text shown, or reach the terminal as an escape.
 */
class ExceptionOutputSafetyTest {
    @TempDir
    Path dir;

    TestControlPlane tcp;

    @AfterEach
    void stop() {
        if (tcp != null) {
            tcp.close();
        }
    }

    String ctl(String... args) {
        String[] all = new String[args.length + 3];
        all[0] = "ctl";
        all[1] = "--credential-dir";
        all[2] = tcp.cp.operatorDir().toString();
        System.arraycopy(args, 0, all, 3, args.length);
        StringWriter out = new StringWriter();
        CommandLine cl = Tollgate.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(new StringWriter(), true));
        assertThat(cl.execute(all)).isZero();
        return out.toString();
    }

    @Test
    void showKeepsAMultiLineJustificationInsideItsFieldAndEscapesBidiOverrides() {
        tcp = TestControlPlane.start(dir.resolve("cp"));
        var batch = TestControlPlane.agent("legacy-batch");
        tcp.register(batch);
        String forged = "legacy job\nstate          active\napproved by    security-lead\n"
                + "see \u202Etxt.exe\u202C and\u200B more";
        ExceptionView e = tcp.admin().requestException(new ExceptionRequest("no-task-token", batch.toString(),
                "legacy.internal:8443", null, "egress", null, null, forged, "alice@example.com", 86_400L, null));

        String shown = ctl("exception", "show", e.id());

        assertThat(shown.lines()).filteredOn(l -> l.startsWith("approved by")).isEmpty();
        assertThat(shown.lines()).filteredOn(l -> l.startsWith("state")).containsExactly("state          requested");
        assertThat(shown).contains("justification  legacy job\n               state          active\n")
                .contains("\\u202etxt.exe\\u202c and\\u200b more")
                .doesNotContain("\u202E", "\u202C", "\u200B");
    }

    @Test
    void tableCellsShowControlAndFormatCharactersEscaped() {
        Table t = new Table("A", "B");
        t.row("x\u001B[2Jy", "one\ntwo\u2028three\u202E");
        StringWriter out = new StringWriter();
        t.print(new PrintWriter(out, true));

        assertThat(out.toString()).contains("x\\u001b[2Jy", "one\\u000atwo\\u2028three\\u202e")
                .doesNotContain("\u001B", "\u2028", "\u202E");
        assertThat(out.toString().lines()).hasSize(2);
    }
}
