package ptlab.report;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;

/**
 * The vmalloc-sync figures, drawn from the JSON rows alone: each strategy's vmalloc and fork
 * latency distribution at the largest process count ({@code *_latency_cdf}, pairs of percent
 * and model cycles), and with a sweep, p99 latency versus the number of processes. The same
 * code serves {@code --out}, a merge of shards, and {@code ptlab report}, so all three draw
 * identical pictures from identical rows.
 */
public final class VmallocSyncPlots {

    /** The percentiles each row's latency distribution is stored at. */
    public static final double[] CDF_PERCENTILES = {1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9, 100};

    private VmallocSyncPlots() {
    }

    public static List<Figure> figures(StudyResult r) throws IOException {
        return figures(r.rows(), r.title());
    }

    public static List<Figure> figures(List<JsonNode> rows, String title) throws IOException {
        System.setProperty("java.awt.headless", "true");
        int maxProcs = 0;
        for (JsonNode row : rows) {
            maxProcs = Math.max(maxProcs, row.path("procs").asInt());
        }
        List<JsonNode> last = new ArrayList<>();
        for (JsonNode row : rows) {
            if (row.path("procs").asInt() == maxProcs) {
                last.add(row);
            }
        }
        List<Figure> out = new ArrayList<>();
        out.add(distribution(last, "vmalloc-latency.png", title + ", " + maxProcs + " procs: vmalloc latency",
                "vmalloc_latency_cdf"));
        out.add(distribution(last, "fork-latency.png", title + ", " + maxProcs + " procs: fork latency",
                "fork_latency_cdf"));
        if (rows.stream().map(n -> n.path("procs").asInt()).distinct().count() > 1) {
            out.add(versusProcs(rows, "vmalloc-p99-vs-procs.png", title + ": vmalloc p99 vs processes",
                    "vmalloc_latency_p99"));
            out.add(versusProcs(rows, "fork-p99-vs-procs.png", title + ": fork p99 vs processes",
                    "fork_latency_p99"));
        }
        return out;
    }

    private static Figure distribution(List<JsonNode> rows, String name, String title, String key) throws IOException {
        XYChart chart = new XYChartBuilder().width(900).height(560).title(title)
                .xAxisTitle("latency (model cycles)").yAxisTitle("fraction of operations at or below").build();
        double lo = Double.MAX_VALUE;
        double hi = 0;
        for (JsonNode row : rows) {
            JsonNode cdf = row.path(key);
            if (!cdf.isArray() || cdf.isEmpty()) {
                continue;   // no operations of this kind (or a row written before the cdf was kept)
            }
            List<Double> xs = new ArrayList<>();
            List<Double> ys = new ArrayList<>();
            for (JsonNode pt : cdf) {
                xs.add(Math.max(1.0, pt.get(1).asDouble()));
                ys.add(pt.get(0).asDouble() / 100);
            }
            chart.addSeries(row.path("strategy").asText(), xs, ys);
            lo = Math.min(lo, xs.get(0));
            hi = Math.max(hi, xs.get(xs.size() - 1));
        }
        if (chart.getSeriesMap().isEmpty()) {
            chart.addSeries("no operations", List.of(1.0), List.of(0.0));
        }
        VmallocSyncReport.style(chart);
        chart.getStyler().setXAxisLogarithmic(VmallocSyncReport.wideRange(lo, hi));
        return new Figure(name, title, BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG));
    }

    private static Figure versusProcs(List<JsonNode> rows, String name, String title, String key) throws IOException {
        XYChart chart = new XYChartBuilder().width(900).height(560).title(title)
                .xAxisTitle("processes").yAxisTitle("p99 latency (model cycles)").build();
        Map<String, List<double[]>> byStrategy = new LinkedHashMap<>();
        double xlo = Double.MAX_VALUE, xhi = 0, ylo = Double.MAX_VALUE, yhi = 0;
        for (JsonNode row : rows) {
            double y = Math.max(1, row.path(key).asDouble());
            xlo = Math.min(xlo, row.path("procs").asDouble());
            xhi = Math.max(xhi, row.path("procs").asDouble());
            ylo = Math.min(ylo, y);
            yhi = Math.max(yhi, y);
            byStrategy.computeIfAbsent(row.path("strategy").asText(), s -> new ArrayList<>())
                    .add(new double[] {row.path("procs").asDouble(), Math.max(1, row.path(key).asDouble())});
        }
        for (Map.Entry<String, List<double[]>> s : byStrategy.entrySet()) {
            List<Double> xs = new ArrayList<>();
            List<Double> ys = new ArrayList<>();
            for (double[] pt : s.getValue()) {
                xs.add(pt[0]);
                ys.add(pt[1]);
            }
            chart.addSeries(s.getKey(), xs, ys);
        }
        VmallocSyncReport.style(chart);
        chart.getStyler().setXAxisLogarithmic(VmallocSyncReport.wideRange(xlo, xhi));
        chart.getStyler().setYAxisLogarithmic(VmallocSyncReport.wideRange(ylo, yhi));
        return new Figure(name, title, BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG));
    }
}
