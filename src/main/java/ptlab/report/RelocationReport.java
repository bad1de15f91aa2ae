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

import ptlab.study.relocation.RelocationExperiment.Row;

/**
 * The relocation study's outputs: the comparison table (text and CSV, same columns), the row
 * values by snake_case key (JSON), and the plot of run time after the move against the
 * remote/local distance ratio, one line per protocol.
 */
public final class RelocationReport {

    private RelocationReport() {
    }

    /** The row's columns by JSON key, in table order. */
    public static Map<String, Object> columns(Row r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("protocol", r.protocol());
        m.put("placement", r.placement());
        m.put("broken", r.broken());
        m.put("violations", r.violations());
        m.put("schedules", r.schedules());
        m.put("migration_cycles", r.migrationCycles());
        m.put("ipis", r.ipis());
        m.put("pages_moved", r.pagesMoved());
        m.put("refused", r.refused());
        m.put("extra_bytes", r.extraBytes());
        m.put("tlb_misses_before", r.before().tlbMisses());
        m.put("walk_cycles_per_miss_before", round(r.before().walkCyclesPerMiss()));
        m.put("run_cycles_before", r.before().runCycles());
        m.put("tlb_misses_after", r.after().tlbMisses());
        m.put("walk_cycles_per_miss_after", round(r.after().walkCyclesPerMiss()));
        m.put("run_cycles_after", r.after().runCycles());
        m.put("walk_speedup", round(r.walkSpeedup()));
        m.put("speedup", round(r.speedup()));
        m.put("remote_ratio", r.remoteRatio());
        m.put("first_violation", r.firstViolation());
        return m;
    }

    private static double round(double d) {
        return Math.round(d * 1000) / 1000.0;
    }

    private static final String[] HEADERS = {"protocol", "threads", "violations", "schedules", "migration cyc",
        "IPIs", "pages moved", "refused", "extra mem", "walk/miss before", "after", "run before", "run after",
        "walk x", "run x"};

    /** The comparison table, one line per row; first violations listed below it. */
    public static String table(List<Row> rows) {
        List<String[]> cells = new ArrayList<>();
        cells.add(HEADERS);
        for (Row r : rows) {
            cells.add(new String[]{r.protocol() + (r.broken() ? "*" : ""), r.placement(), str(r.violations()),
                str(r.schedules()), str(r.migrationCycles()), str(r.ipis()), str(r.pagesMoved()), str(r.refused()),
                VmallocSyncReport.size(r.extraBytes()), f1(r.before().walkCyclesPerMiss()),
                f1(r.after().walkCyclesPerMiss()), str(r.before().runCycles()), str(r.after().runCycles()),
                f2(r.walkSpeedup()), f2(r.speedup())});
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
                String cell = i < 2 ? String.format("%-" + w[i] + "s", row[i]) : String.format("%" + w[i] + "s", row[i]);
                sb.append(i == 0 ? "" : "  ").append(cell);
            }
            sb.append('\n');
        }
        sb.append("* deliberately broken; threads: node = all on the last node, spread = on every node; "
                + "walk/miss in model cycles; x = before/after\n");
        for (Row r : rows) {
            if (r.firstViolation() != null) {
                sb.append(r.protocol()).append(": ").append(r.firstViolation()).append('\n');
            }
        }
        return sb.toString();
    }

    private static String str(long v) {
        return Long.toString(v);
    }

    private static String f1(double d) {
        return String.format("%.1f", d);
    }

    private static String f2(double d) {
        return String.format("%.2f", d);
    }

    /** CSV with the JSON keys as the header row. */
    public static String csv(List<Row> rows) {
        return Csv.of(rows, RelocationReport::columns);
    }

    /**
     * relocation-runtime-vs-ratio.png: model run time of the workload after the move against
     * the remote/local distance ratio, one line per protocol plus the unmoved tables
     * ("no move"). {@code y[i][j]} is protocol i's run time at {@code ratios[j]}; the last row
     * is the run time before any move.
     */
    public static Path plot(Path dir, String title, List<String> protocols, double[] ratios, double[][] y)
            throws IOException {
        System.setProperty("java.awt.headless", "true");
        XYChart chart = new XYChartBuilder().width(900).height(560).title(title)
                .xAxisTitle("remote/local node distance ratio (SLIT / 10)").yAxisTitle("run time (model cycles)").build();
        List<Double> xs = new ArrayList<>();
        for (double r : ratios) {
            xs.add(r);
        }
        for (int i = 0; i <= protocols.size(); i++) {
            List<Double> ys = new ArrayList<>();
            for (double v : y[i]) {
                ys.add(v);
            }
            chart.addSeries(i < protocols.size() ? protocols.get(i) : "no move (tables remote)", xs, ys);
        }
        Path file = dir.resolve("relocation-runtime-vs-ratio.png");
        BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
        return file;
    }
}
