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
import java.util.ArrayList;
import java.util.List;

import javax.imageio.ImageIO;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramIterationValue;

/**
 * A latency-by-percentile chart in the style of HdrHistogram's plotter: x is the percentile on a log scale of
 * 1 / (1 − p) (so 90 %, 99 %, 99.9 % are evenly spaced), y is latency in ms on a log scale. Drawn with Java2D, headless.
 */
final class LatencyChart {
    private static final int W = 1000;
    private static final int H = 620;
    private static final int LEFT = 80;
    private static final int RIGHT = 230;
    private static final int TOP = 50;
    private static final int BOTTOM = 60;
    private static final double MAX_X = 4; // 99.99 %
    private static final Color[] COLORS = Charts.COLORS;

    /** One line: a label, a colour index, dashed or solid, and its distribution in nanoseconds. */
    record Series(String label, int colour, boolean dashed, Histogram nanos) {
    }

    private LatencyChart() {
    }

    static void write(Path file, String title, List<Series> series) throws IOException {
        double minMs = Double.MAX_VALUE;
        double maxMs = 0;
        List<double[][]> points = new ArrayList<>();
        for (Series s : series) {
            double[][] p = points(s.nanos());
            points.add(p);
            for (double[] xy : p) {
                minMs = Math.min(minMs, xy[1]);
                maxMs = Math.max(maxMs, xy[1]);
            }
        }
        if (maxMs == 0) {
            minMs = 0.01;
            maxMs = 1;
        }
        int yLo = (int) Math.floor(Math.log10(Math.max(minMs, 0.001)));
        int yHi = (int) Math.ceil(Math.log10(Math.max(maxMs, minMs * 10)));
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, W, H);
        int plotW = W - LEFT - RIGHT;
        int plotH = H - TOP - BOTTOM;
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        g.setColor(Color.BLACK);
        g.drawString(title, LEFT, 28);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        String[] xLabels = {"0%", "90%", "99%", "99.9%", "99.99%"};
        for (int i = 0; i <= MAX_X; i++) {
            int x = LEFT + (int) (plotW * i / MAX_X);
            g.setColor(new Color(0xdddddd));
            g.drawLine(x, TOP, x, TOP + plotH);
            g.setColor(Color.DARK_GRAY);
            g.drawString(xLabels[i], x - 15, TOP + plotH + 18);
        }
        Charts.logYGrid(g, LEFT, TOP, plotW, plotH, yLo, yHi);
        g.drawString("percentile", LEFT + plotW / 2 - 30, H - 18);
        g.rotate(-Math.PI / 2);
        g.drawString("latency (ms, log scale)", -(TOP + plotH / 2) - 60, 22);
        g.rotate(Math.PI / 2);
        g.setColor(Color.BLACK);
        g.drawRect(LEFT, TOP, plotW, plotH);
        for (int i = 0; i < series.size(); i++) {
            Series s = series.get(i);
            g.setColor(COLORS[s.colour() % COLORS.length]);
            g.setStroke(s.dashed() ? new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10f,
                    new float[] {7f, 5f}, 0f) : new BasicStroke(2.2f));
            Path2D line = new Path2D.Double();
            double[][] p = points.get(i);
            for (int k = 0; k < p.length; k++) {
                double px = LEFT + plotW * Math.min(p[k][0], MAX_X) / MAX_X;
                double py = TOP + plotH - plotH * (Math.log10(Math.max(p[k][1], Math.pow(10, yLo))) - yLo) / (yHi - yLo);
                if (k == 0) {
                    line.moveTo(px, py);
                } else {
                    line.lineTo(px, py);
                }
            }
            g.draw(line);
            int ly = TOP + 10 + i * 22;
            g.drawLine(LEFT + plotW + 15, ly, LEFT + plotW + 45, ly);
            g.setColor(Color.BLACK);
            g.drawString(s.label(), LEFT + plotW + 52, ly + 4);
        }
        g.dispose();
        ImageIO.write(img, "png", file.toFile());
    }

    /** (log10(1 / (1 − p)), latency ms) up to 99.99 %. */
    private static double[][] points(Histogram h) {
        List<double[]> p = new ArrayList<>();
        if (h.getTotalCount() == 0) {
            return new double[0][];
        }
        for (HistogramIterationValue v : h.percentiles(5)) {
            double pct = v.getPercentileLevelIteratedTo();
            double x = pct >= 100 ? MAX_X : Math.log10(100 / (100 - pct));
            p.add(new double[] {Math.min(x, MAX_X), h.highestEquivalentValue(v.getValueIteratedTo()) / 1e6});
            if (x >= MAX_X) {
                break;
            }
        }
        return p.toArray(new double[0][]);
    }
}
