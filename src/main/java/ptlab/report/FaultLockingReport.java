package ptlab.report;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;

import ptlab.study.faultlocking.FaultLockingExperiment.Row;

/**
 * The fault-locking study's outputs: the table (text and CSV, same columns), the row values by
 * snake_case key (for JSON), and the scalability plot (faults per model second against CPUs, one
 * line per path and mix, log-2 CPU axis).
 */
public final class FaultLockingReport {

    private FaultLockingReport() {
    }

    /** Faults per second of {@code r} over those of the same path and mix at the fewest CPUs. */
    public static double speedup(List<Row> rows, Row r) {
        Row base = null;
        for (Row o : rows) {
            if (o.path().equals(r.path()) && o.mix().equals(r.mix()) && (base == null || o.cpus() < base.cpus())) {
                base = o;
            }
        }
        return base == null || base.faultsPerSecond() == 0 ? 0 : r.faultsPerSecond() / base.faultsPerSecond();
    }

    /** The row's columns by JSON key, in table order. */
    public static Map<String, Object> columns(List<Row> rows, Row r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("path", r.path());
        m.put("mix", r.mix());
        m.put("cpus", r.cpus());
        m.put("faults", r.faults());
        m.put("faults_per_s", Math.round(r.faultsPerSecond()));
        m.put("speedup", Math.round(speedup(rows, r) * 100) / 100.0);
        m.put("lockless", r.lockless());
        m.put("retries", r.retries());
        m.put("fallbacks", r.fallbacks());
        m.put("mmap_lock_wait_cycles", r.mmapLockWait());
        m.put("line_transfers_per_fault", Math.round(r.transfersPerFault() * 100) / 100.0);
        m.put("fault_latency_p50", r.faultP50());
        m.put("fault_latency_p99", r.faultP99());
        m.put("forks", r.forks());
        m.put("fork_latency_p50", r.forkP50());
        m.put("fork_latency_p99", r.forkP99());
        m.put("model_cycles", r.makespan());
        m.put("violations", r.violations());
        m.put("first_violation", r.violation());
        return m;
    }

    private static final String[] HEADERS = {"path", "mix", "cpus", "faults/s", "speedup", "retries", "fallbacks",
        "mmap_lock wait", "lines/fault", "fault p50", "p99", "fork p50", "violations"};

    public static String table(List<Row> rows) {
        List<String[]> cells = new ArrayList<>();
        cells.add(HEADERS);
        for (Row r : rows) {
            cells.add(new String[] {r.path(), r.mix(), Integer.toString(r.cpus()),
                String.format("%,d", Math.round(r.faultsPerSecond())), String.format("%.2f", speedup(rows, r)),
                Long.toString(r.retries()), Long.toString(r.fallbacks()), Long.toString(r.mmapLockWait()),
                String.format("%.1f", r.transfersPerFault()), Long.toString(r.faultP50()), Long.toString(r.faultP99()),
                r.forks() == 0 ? "-" : Long.toString(r.forkP50()), Long.toString(r.violations())});
        }
        int[] w = new int[HEADERS.length];
        for (String[] row : cells) {
            for (int i = 0; i < row.length; i++) {
                w[i] = Math.max(w[i], row[i].length());
            }
        }
        StringBuilder sb = new StringBuilder();
        for (String[] row : cells) {
            for (int i = 0; i < row.length; i++) {
                String f = i < 2 ? "%-" + w[i] + "s" : "%" + w[i] + "s";
                sb.append(i == 0 ? "" : "  ").append(String.format(f, row[i]));
            }
            sb.append('\n');
        }
        for (Row r : rows) {
            if (r.violation() != null) {
                sb.append(r.path()).append(r.broken() ? " (deliberately broken)" : "").append(", ").append(r.cpus())
                        .append(" CPUs: ").append(r.violation()).append('\n');
            }
        }
        return sb.toString();
    }

    /** CSV with the JSON keys as the header row. */
    public static String csv(List<Row> rows) {
        return Csv.of(rows, r -> columns(rows, r));
    }

    /** fault-locking-scalability.png: faults per model second against CPUs, one line per path (and mix). */
    public static Path plot(List<Row> rows, Path dir, String title) throws IOException {
        System.setProperty("java.awt.headless", "true");
        XYChart chart = new XYChartBuilder().width(900).height(560).title(title)
                .xAxisTitle("CPUs (log 2)").yAxisTitle("faults per model second").build();
        chart.getStyler().setXAxisLogarithmic(true);
        chart.getStyler().setXAxisLogarithmicDecadeOnly(false);
        Map<String, List<double[]>> lines = new LinkedHashMap<>();
        boolean mixes = rows.stream().map(Row::mix).distinct().count() > 1;
        for (Row r : rows) {
            String name = mixes ? r.path() + " " + r.mix() : r.path();
            lines.computeIfAbsent(name, n -> new ArrayList<>()).add(new double[] {r.cpus(), r.faultsPerSecond()});
        }
        for (Map.Entry<String, List<double[]>> e : lines.entrySet()) {
            List<Double> xs = new ArrayList<>();
            List<Double> ys = new ArrayList<>();
            for (double[] p : e.getValue()) {
                xs.add(p[0]);
                ys.add(p[1]);
            }
            chart.addSeries(e.getKey(), xs, ys);
        }
        Path file = dir.resolve("fault-locking-scalability.png");
        BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
        return file;
    }
}
