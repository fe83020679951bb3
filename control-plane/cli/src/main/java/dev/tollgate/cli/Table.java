package dev.tollgate.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/** A plain-text table with columns sized to their contents. */
final class Table {
    private static final int MAX_CELL = 60;
    private final String[] headers;
    private final List<String[]> rows = new ArrayList<>();

    Table(String... headers) {
        this.headers = headers;
    }

    void row(String... cells) {
        String[] r = new String[headers.length];
        for (int i = 0; i < headers.length; i++) {
            String c = printable(i < cells.length && cells[i] != null ? cells[i] : "", false);
            r[i] = c.length() > MAX_CELL ? c.substring(0, MAX_CELL - 1) + "…" : c;
        }
        rows.add(r);
    }

    /**
     * Text from the control plane made safe for a terminal: control characters (escape sequences, carriage returns,
     * line breaks unless {@code lineBreaks}), Unicode format characters (bidirectional overrides, zero-width
     * characters) and line or paragraph separators are shown as {@code \\uXXXX}, so that no operator-supplied text
     * can move the cursor, recolour the screen, reorder what is shown or forge a row or a field.
     */
    static String printable(String s, boolean lineBreaks) {
        StringBuilder b = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            int type = Character.getType(c);
            boolean unsafe = Character.isISOControl(c) && !(lineBreaks && c == '\n') || type == Character.FORMAT
                    || type == Character.LINE_SEPARATOR || type == Character.PARAGRAPH_SEPARATOR;
            if (unsafe && b == null) {
                b = new StringBuilder(s.length() + 16).append(s, 0, i);
            }
            if (unsafe) {
                b.append(String.format("\\u%04x", (int) c));
            } else if (b != null) {
                b.append(c);
            }
        }
        return b == null ? s : b.toString();
    }

    void print(PrintWriter out) {
        int[] w = new int[headers.length];
        for (int i = 0; i < headers.length; i++) {
            w[i] = headers[i].length();
            for (String[] r : rows) {
                w[i] = Math.max(w[i], r[i].length());
            }
        }
        line(out, headers, w);
        for (String[] r : rows) {
            line(out, r, w);
        }
        if (rows.isEmpty()) {
            out.println("(none)");
        }
    }

    private static void line(PrintWriter out, String[] cells, int[] w) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < cells.length; i++) {
            sb.append(cells[i]);
            if (i < cells.length - 1) {
                sb.append(" ".repeat(w[i] - cells[i].length() + 2));
            }
        }
        out.println(sb.toString().stripTrailing());
    }
}
