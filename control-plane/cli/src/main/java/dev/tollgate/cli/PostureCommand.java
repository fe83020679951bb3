package dev.tollgate.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import dev.tollgate.api.client.ControlPlaneClient;
import dev.tollgate.api.wire.PostureView;

/** {@code ctl posture}: the posture report as a table, JSON, or a Markdown / HTML file for review. */
@Command(name = "posture", mixinStandardHelpOptions = true,
        description = "The posture report: weak, unowned, long-lived, expiring and overdue assets, scored. "
                + "Exits 0 with no critical or high finding, 4 otherwise; a finding acknowledged by a posture:<rule> "
                + "exception is listed but does not count.")
final class PostureCommand extends CtlCommand.Action {
    /** Exit status when the report has a critical or high finding. */
    static final int EXIT_FINDINGS = 4;

    @Option(names = "--report", paramLabel = "FILE", description = "also write the report for a reviewer: FILE.md (Markdown) or FILE.html")
    Path report;

    @Override
    void run(ControlPlaneClient c, PrintWriter out) throws IOException {
        if (report != null) {
            formatOf(report); // refuse a bad name before asking the control plane
        }
        PostureView p = c.posture();
        print(out, p, () -> table(out, p));
        if (report != null) {
            String text = formatOf(report).equals("html") ? html(p, c.base().toString())
                    : markdown(p, c.base().toString());
            Path parent = report.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            Files.writeString(report, text, StandardCharsets.UTF_8);
            spec.commandLine().getErr().println("report written to " + report.toAbsolutePath());
        }
        if (p.bySeverity().getOrDefault("critical", 0) + p.bySeverity().getOrDefault("high", 0) > 0) {
            exitCode = EXIT_FINDINGS;
        }
    }

    private static String formatOf(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".md") || name.endsWith(".markdown")) {
            return "md";
        }
        if (name.endsWith(".html") || name.endsWith(".htm")) {
            return "html";
        }
        throw new CtlException("--report: " + file + " (expected: a file name ending in .md or .html)");
    }

    private static void table(PrintWriter out, PostureView p) {
        out.printf("score %d/100 · %d assets reviewed · %s%n", p.score(), p.assetsReviewed(), counts(p.bySeverity()));
        Table t = new Table("SEVERITY", "RULE", "ASSET", "OWNER", "ACKNOWLEDGED BY", "DETAIL");
        for (PostureView.Finding f : p.findings()) {
            t.row(f.severity(), f.rule(), f.assetKind() + " " + f.assetId(),
                    f.humanOwner() == null ? "(none)" : f.humanOwner(),
                    f.acknowledgedBy() == null ? "-" : f.acknowledgedBy(), f.detail());
        }
        t.print(out);
        if (p.truncated()) {
            out.println("(only the first " + p.findings().size() + " findings are listed; the counts cover all)");
        }
    }

    private static String counts(Map<String, Integer> bySeverity) {
        StringBuilder b = new StringBuilder();
        bySeverity.forEach((k, v) -> b.append(b.length() == 0 ? "" : ", ").append(v).append(' ').append(k));
        return b.toString();
    }

    /** A finding's detail, with the exception that acknowledges it (it is listed, not counted). */
    static String detail(PostureView.Finding f) {
        return f.acknowledgedBy() == null ? f.detail()
                : f.detail() + " (acknowledged by exception " + f.acknowledgedBy() + "; not counted)";
    }

    /** The report as Markdown: a summary, the findings by rule with why and what to do, every asset named. */
    static String markdown(PostureView p, String server) {
        StringBuilder b = new StringBuilder();
        b.append("# Tollgate posture report\n\n");
        b.append("Control plane ").append(server).append(", evaluated ").append(p.at()).append(".\n\n");
        b.append("**Score ").append(p.score()).append("/100** · ").append(p.assetsReviewed())
                .append(" live assets reviewed · ").append(counts(p.bySeverity())).append(" findings\n\n");
        b.append("| rule | findings |\n| --- | ---: |\n");
        p.byRule().forEach((rule, n) -> b.append("| `").append(rule).append("` | ").append(n).append(" |\n"));
        if (p.findings().isEmpty()) {
            b.append("\nNo findings.\n");
            return b.toString();
        }
        String rule = null;
        for (PostureView.Finding f : p.findings()) {
            if (!f.rule().equals(rule)) {
                rule = f.rule();
                b.append("\n## ").append(md(f.title())).append(" (`").append(f.rule()).append("`, ")
                        .append(f.severity()).append(")\n\n");
                b.append("Why it matters: ").append(md(f.why())).append(".\n\n");
                b.append("What to do: ").append(md(f.fix())).append(".\n\n");
                b.append("| asset | workload | human owner | service owner | detail |\n| --- | --- | --- | --- | --- |\n");
            }
            b.append("| ").append(md(f.assetKind() + " " + f.assetId())).append(" | ").append(md(orDash(f.workload())))
                    .append(" | ").append(md(orDash(f.humanOwner()))).append(" | ").append(md(orDash(f.serviceOwner())))
                    .append(" | ").append(md(detail(f))).append(" |\n");
        }
        if (p.truncated()) {
            b.append("\nOnly the first ").append(p.findings().size()).append(" findings are listed; the counts cover all.\n");
        }
        return b.toString();
    }

    /** The report as one self-contained HTML page. */
    static String html(PostureView p, String server) {
        StringBuilder b = new StringBuilder();
        b.append("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Tollgate posture report</title>\n")
                .append("<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:75em;color:#222}")
                .append("table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.3em .6em;")
                .append("text-align:left;vertical-align:top}th{background:#f3f3f3}.critical{color:#fff;background:#a00}")
                .append(".high{background:#f5c6c6}.medium{background:#fde9b8}.low{background:#e6eef8}")
                .append(".score{font-size:2em;font-weight:bold}</style></head><body>\n");
        b.append("<h1>Tollgate posture report</h1>\n<p>Control plane ").append(h(server)).append(", evaluated ")
                .append(h(p.at().toString())).append(".</p>\n");
        b.append("<p><span class=\"score\">").append(p.score()).append("/100</span> · ").append(p.assetsReviewed())
                .append(" live assets reviewed · ").append(h(counts(p.bySeverity()))).append(" findings</p>\n");
        b.append("<table><tr><th>rule</th><th>findings</th></tr>\n");
        p.byRule().forEach((rule, n) -> b.append("<tr><td><code>").append(h(rule)).append("</code></td><td>")
                .append(n).append("</td></tr>\n"));
        b.append("</table>\n");
        if (p.findings().isEmpty()) {
            b.append("<p>No findings.</p>\n");
        }
        String rule = null;
        for (PostureView.Finding f : p.findings()) {
            if (!f.rule().equals(rule)) {
                if (rule != null) {
                    b.append("</table>\n");
                }
                rule = f.rule();
                b.append("<h2 class=\"").append(h(f.severity())).append("\">").append(h(f.title())).append(" (<code>")
                        .append(h(f.rule())).append("</code>, ").append(h(f.severity())).append(")</h2>\n");
                b.append("<p><b>Why it matters:</b> ").append(h(f.why())).append(".</p>\n");
                b.append("<p><b>What to do:</b> ").append(h(f.fix())).append(".</p>\n");
                b.append("<table><tr><th>asset</th><th>workload</th><th>human owner</th><th>service owner</th>")
                        .append("<th>detail</th></tr>\n");
            }
            b.append("<tr>");
            for (String cell : List.of(f.assetKind() + " " + f.assetId(), orDash(f.workload()),
                    orDash(f.humanOwner()), orDash(f.serviceOwner()), detail(f))) {
                b.append("<td>").append(h(cell)).append("</td>");
            }
            b.append("</tr>\n");
        }
        if (rule != null) {
            b.append("</table>\n");
        }
        if (p.truncated()) {
            b.append("<p>Only the first ").append(p.findings().size()).append(" findings are listed; the counts cover all.</p>\n");
        }
        return b.append("</body></html>\n").toString();
    }

    private static String orDash(String s) {
        return s == null ? "-" : s;
    }

    /**
     * Text safe in a Markdown table cell: every character Markdown gives a meaning (links, images, emphasis, code,
     * tables, HTML) escaped, newlines folded; an owner's text can then never become a link or an image.
     */
    static String md(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '\r', '\n' -> b.append(' ');
                case '\\', '|', '[', ']', '(', ')', '!', '*', '_', '`', '#', '~' -> b.append('\\').append(ch);
                default -> b.append(ch);
            }
        }
        return b.toString();
    }

    /** Text safe in HTML. */
    static String h(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(ch);
            }
        }
        return b.toString();
    }
}
