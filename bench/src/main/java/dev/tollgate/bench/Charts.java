package dev.tollgate.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import javax.imageio.ImageIO;

/** Grouped bar charts and line charts (log y) as PNG, drawn with Java2D, headless; colours as {@link LatencyChart}. */
final class Charts {
    private static final int W = 1000;
    private static final int H = 560;
    private static final int LEFT = 90;
    private static final int RIGHT = 200;
    private static final int TOP = 50;
    private static final int BOTTOM = 70;
    static final Color[] COLORS = {new Color(0x7f7f7f), new Color(0x2ca02c), new Color(0x9467bd),
            new Color(0x1f77b4), new Color(0xd62728), new Color(0xff7f0e), new Color(0x8c564b)};

    /** One line: a label, a colour index, and (x, y) points with y > 0. */
    record Line(String label, int colour, List<double[]> points) {
    }

    private Charts() {
    }

    /**
     * Bars grouped by category (x), one bar per series in each group; values[series][category], NaN = no bar.
     */
    static void bars(Path file, String title, String yLabel, List<String> categories, List<String> series,
                     double[][] values) throws IOException {
        double max = 0;
        for (double[] row : values) {
            for (double v : row) {
                if (!Double.isNaN(v)) {
                    max = Math.max(max, v);
                }
            }
        }
        double top = niceCeiling(max == 0 ? 1 : max);
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = canvas(img, title);
        int plotW = W - LEFT - RIGHT;
        int plotH = H - TOP - BOTTOM;
        for (int i = 0; i <= 5; i++) {
            double v = top * i / 5;
            int y = TOP + plotH - (int) (plotH * i / 5.0);
            g.setColor(new Color(0xdddddd));
            g.drawLine(LEFT, y, LEFT + plotW, y);
            g.setColor(Color.DARK_GRAY);
            String label = format(v);
            g.drawString(label, LEFT - 8 - g.getFontMetrics().stringWidth(label), y + 4);
        }
        axisLabels(g, "", yLabel, plotW, plotH);
        int groups = categories.size();
        double groupW = plotW / (double) Math.max(1, groups);
        double barW = groupW * 0.8 / Math.max(1, series.size());
        for (int c = 0; c < groups; c++) {
            double gx = LEFT + c * groupW + groupW * 0.1;
            for (int s = 0; s < series.size(); s++) {
                double v = values[s][c];
                if (Double.isNaN(v)) {
                    continue;
                }
                int h = (int) Math.round(plotH * v / top);
                int x = (int) Math.round(gx + s * barW);
                g.setColor(COLORS[s % COLORS.length]);
                g.fillRect(x, TOP + plotH - h, Math.max(1, (int) barW - 2), h);
                g.setColor(Color.BLACK);
                g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 10));
                String label = format(v);
                g.drawString(label, x + (int) (barW - 2 - g.getFontMetrics().stringWidth(label)) / 2, TOP + plotH - h - 3);
                g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            }
            g.setColor(Color.DARK_GRAY);
            String cat = categories.get(c);
            g.drawString(cat, (int) (LEFT + c * groupW + groupW / 2 - g.getFontMetrics().stringWidth(cat) / 2.0),
                    TOP + plotH + 18);
        }
        g.setColor(Color.BLACK);
        g.drawRect(LEFT, TOP, plotW, plotH);
        legend(g, series, plotW, false);
        g.dispose();
        ImageIO.write(img, "png", file.toFile());
    }

    /** Lines on a linear x axis and a log y axis; dots mark the points. */
    static void lines(Path file, String title, String xLabel, String yLabel, List<Line> lines, double yMark)
            throws IOException {
        double maxX = 0;
        double minY = Double.MAX_VALUE;
        double maxY = 0;
        for (Line l : lines) {
            for (double[] p : l.points()) {
                maxX = Math.max(maxX, p[0]);
                if (p[1] > 0) {
                    minY = Math.min(minY, p[1]);
                    maxY = Math.max(maxY, p[1]);
                }
            }
        }
        if (maxY == 0) {
            minY = 0.1;
            maxY = 1;
        }
        if (yMark > 0) {
            maxY = Math.max(maxY, yMark);
            minY = Math.min(minY, yMark);
        }
        double xTop = niceCeiling(maxX == 0 ? 1 : maxX);
        int yLo = (int) Math.floor(Math.log10(minY));
        int yHi = (int) Math.ceil(Math.log10(maxY));
        if (yHi == yLo) {
            yHi++;
        }
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = canvas(img, title);
        int plotW = W - LEFT - RIGHT;
        int plotH = H - TOP - BOTTOM;
        for (int i = 0; i <= 5; i++) {
            int x = LEFT + (int) (plotW * i / 5.0);
            g.setColor(new Color(0xdddddd));
            g.drawLine(x, TOP, x, TOP + plotH);
            g.setColor(Color.DARK_GRAY);
            String label = format(xTop * i / 5);
            g.drawString(label, x - g.getFontMetrics().stringWidth(label) / 2, TOP + plotH + 18);
        }
        final int lo = yLo;
        final int hi = yHi;
        logYGrid(g, LEFT, TOP, plotW, plotH, yLo, yHi);
        axisLabels(g, xLabel, yLabel, plotW, plotH);
        java.util.function.DoubleUnaryOperator ty = v -> TOP + plotH - plotH * (Math.log10(v) - lo) / (hi - lo);
        if (yMark > 0) {
            g.setColor(new Color(0xaa0000));
            g.setStroke(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10f, new float[] {4f, 4f}, 0f));
            int y = (int) ty.applyAsDouble(yMark);
            g.drawLine(LEFT, y, LEFT + plotW, y);
        }
        for (Line l : lines) {
            g.setColor(COLORS[l.colour() % COLORS.length]);
            g.setStroke(new BasicStroke(2f));
            Path2D path = new Path2D.Double();
            boolean first = true;
            for (double[] p : l.points()) {
                if (!(p[1] > 0)) {
                    continue;
                }
                double px = LEFT + plotW * p[0] / xTop;
                double py = ty.applyAsDouble(p[1]);
                if (first) {
                    path.moveTo(px, py);
                    first = false;
                } else {
                    path.lineTo(px, py);
                }
                g.fillOval((int) px - 3, (int) py - 3, 7, 7);
            }
            g.draw(path);
        }
        g.setStroke(new BasicStroke(1f));
        g.setColor(Color.BLACK);
        g.drawRect(LEFT, TOP, plotW, plotH);
        legend(g, lines.stream().map(Line::label).toList(), plotW, true);
        g.dispose();
        ImageIO.write(img, "png", file.toFile());
    }

    /** Horizontal grid lines and labels at every power of ten from 10^yLo to 10^yHi. */
    static void logYGrid(Graphics2D g, int left, int top, int plotW, int plotH, int yLo, int yHi) {
        for (int e = yLo; e <= yHi; e++) {
            int y = top + plotH - (int) (plotH * (e - yLo) / (double) (yHi - yLo));
            g.setColor(new Color(0xdddddd));
            g.drawLine(left, y, left + plotW, y);
            g.setColor(Color.DARK_GRAY);
            String label = e >= 0 ? String.format(Locale.ROOT, "%.0f", Math.pow(10, e))
                    : String.format(Locale.ROOT, "%." + (-e) + "f", Math.pow(10, e));
            g.drawString(label, left - 8 - g.getFontMetrics().stringWidth(label), y + 4);
        }
    }

    private static Graphics2D canvas(BufferedImage img, String title) {
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, W, H);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        g.setColor(Color.BLACK);
        g.drawString(title, LEFT, 28);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        return g;
    }

    private static void axisLabels(Graphics2D g, String xLabel, String yLabel, int plotW, int plotH) {
        g.setColor(Color.DARK_GRAY);
        g.drawString(xLabel, LEFT + plotW / 2 - g.getFontMetrics().stringWidth(xLabel) / 2, H - 25);
        g.rotate(-Math.PI / 2);
        g.drawString(yLabel, -(TOP + plotH / 2) - g.getFontMetrics().stringWidth(yLabel) / 2, 22);
        g.rotate(Math.PI / 2);
    }

    private static void legend(Graphics2D g, List<String> labels, int plotW, boolean asLine) {
        for (int i = 0; i < labels.size(); i++) {
            int ly = TOP + 10 + i * 22;
            g.setColor(COLORS[i % COLORS.length]);
            if (asLine) {
                g.setStroke(new BasicStroke(2f));
                g.drawLine(LEFT + plotW + 15, ly, LEFT + plotW + 45, ly);
                g.setStroke(new BasicStroke(1f));
            } else {
                g.fillRect(LEFT + plotW + 15, ly - 6, 30, 12);
            }
            g.setColor(Color.BLACK);
            g.drawString(labels.get(i), LEFT + plotW + 52, ly + 4);
        }
    }

    /** 1, 2, 2.5 or 5 times a power of ten, at least v. */
    static double niceCeiling(double v) {
        double p = Math.pow(10, Math.floor(Math.log10(v)));
        for (double m : new double[] {1, 2, 2.5, 5, 10}) {
            if (m * p >= v) {
                return m * p;
            }
        }
        return 10 * p;
    }

    private static String format(double v) {
        if (v >= 100 || v == Math.rint(v)) {
            return String.format(Locale.ROOT, "%,.0f", v);
        }
        return String.format(Locale.ROOT, v >= 10 ? "%.1f" : "%.2f", v);
    }
}
