package ptlab.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;

import org.HdrHistogram.Histogram;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.style.markers.SeriesMarkers;

import ptlab.study.vmallocsync.VmallocSyncExperiment.Row;

/**
 * The vmalloc-sync study's outputs: the comparison table (text and CSV, same columns), the
 * row values by snake_case key (for JSON), and PNG plots: each strategy's vmalloc and fork
 * latency distribution, and with a sweep, cost versus number of processes.
 */
public final class VmallocSyncReport {

    /** A result row of one run with the process count it ran with (a sweep has several). */
    public record Entry(int procs, Row row) {
    }

    private VmallocSyncReport() {
    }

    /** The row's columns by JSON key, in table order. */
    public static Map<String, Object> columns(Entry e) {
        Row r = e.row();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("strategy", r.strategy());
        m.put("procs", e.procs());
        m.put("full_syncs", r.fullSyncs());
        m.put("entries_copied", r.entriesCopied());
        m.put("vmalloc_faults", r.vmallocFaults());
        m.put("faults_in_nmi", r.faultsInNmi());
        m.put("nested_nmi_hazards", r.nestedNmiHazards());
        m.put("nested_nmis", r.nestedNmis());
        m.put("vmalloc_latency_p50", r.vmallocLatencyP50());
        m.put("vmalloc_latency_p99", r.vmallocLatencyP99());
        m.put("vmalloc_latency_max", r.vmallocLatencyMax());
        m.put("fork_latency_p50", r.forkLatencyP50());
        m.put("fork_latency_p99", r.forkLatencyP99());
        m.put("switch_overhead", r.switchOverhead());
        m.put("page_table_bytes", r.pageTableBytes());
        m.put("boot_table_bytes", r.bootTableBytes());
        m.put("vmalloc_limit", r.vmallocLimit());
        m.put("vmalloc_failures", r.vmallocFailures());
        m.put("vmalloc_attempts", r.vmallocAttempts());
        m.put("pgd_list_walks", r.pgdListWalks());
        m.put("pgd_lock_wait_cycles", r.pgdLockWaitCycles());
        m.put("pgd_lock_hold_cycles", r.pgdLockHoldCycles());
        m.put("pgd_lock_holds", r.pgdLockHolds());
        m.put("ipis", r.ipis());
        m.put("nmis", r.nmis());
        m.put("invariant4_checks", r.invariant4Checks());
        m.put("mms_walked", r.mmsWalked());
        m.put("walk_cycles", r.walkCycles());
        m.put("violations", r.violations());
        m.put("first_violation", r.firstViolation());
        m.put("events", r.events());
        m.put("events_per_s", Math.round(r.eventsPerSecond()));
        m.put("model_cycles", r.modelCycles());
        return m;
    }

    private static final String[] HEADERS = {"strategy", "procs", "full syncs", "copied", "vm faults", "in NMI",
        "NMI hazards", "nested", "vmalloc p50", "p99", "max", "fork p50", "p99", "switch +", "pt bytes", "boot pt",
        "vmalloc limit", "failed", "violations"};

    /**
     * The level whose entries the strategies copy, in the one vocabulary of ptlab layout
     * ({@link ptlab.kernel.KernelLayout#syncLevel()}): the table that holds the entry.
     */
    public static String syncLevelName(ptlab.hw.PagingMode mode) {
        return ptlab.kernel.KernelLayout.of(mode, null, ptlab.kernel.KernelLayout.PAGE_SIZE << 17, null).syncLevel();
    }

    /** The comparison table, one line per entry; the first violation of each strategy listed below it. */
    public static String table(List<Entry> entries, String syncLevel) {
        List<String[]> rows = new ArrayList<>();
        String[] h = HEADERS.clone();
        h[3] = syncLevel + " copied";
        rows.add(h);
        for (Entry e : entries) {
            Row r = e.row();
            rows.add(new String[] {r.strategy(), str(e.procs()), str(r.fullSyncs()), str(r.entriesCopied()),
                str(r.vmallocFaults()), str(r.faultsInNmi()), str(r.nestedNmiHazards()), str(r.nestedNmis()),
                str(r.vmallocLatencyP50()), str(r.vmallocLatencyP99()), str(r.vmallocLatencyMax()),
                str(r.forkLatencyP50()), str(r.forkLatencyP99()), str(r.switchOverhead()), str(r.pageTableBytes()),
                str(r.bootTableBytes()), size(r.vmallocLimit()), str(r.vmallocFailures()), str(r.violations())});
        }
        int[] w = new int[h.length];
        for (String[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                w[i] = Math.max(w[i], row[i].length());
            }
        }
        StringBuilder sb = new StringBuilder();
        for (String[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                String cell = i == 0 ? String.format("%-" + w[i] + "s", row[i]) : String.format("%" + w[i] + "s", row[i]);
                sb.append(i == 0 ? "" : "  ").append(cell);
            }
            sb.append('\n');
        }
        for (Entry e : entries) {
            if (e.row().firstViolation() != null) {
                sb.append(e.row().strategy()).append(e.row().broken() ? " (deliberately broken)" : "")
                        .append(", procs ").append(e.procs()).append(": ").append(e.row().firstViolation()).append('\n');
            }
        }
        return sb.toString();
    }

    private static String str(long v) {
        return Long.toString(v);
    }

    /** Sizes in the largest binary unit they reach: 4M, 512G, 32T, 494.0M. */
    static String size(long bytes) {
        String[] units = {"", "K", "M", "G", "T", "P", "E"};
        int u = 0;
        long whole = bytes;
        while (u < units.length - 1 && whole >= 1024) {
            whole /= 1024;
            u++;
        }
        long unit = 1L << (10 * u);
        return bytes % unit == 0 ? (bytes / unit) + units[u] : String.format("%.1f%s", (double) bytes / unit, units[u]);
    }

    /** CSV with the JSON keys as the header row. */
    public static String csv(List<Entry> entries) {
        return Csv.of(entries, VmallocSyncReport::columns);
    }

    /**
     * The row as the JSON file keeps it: the table's columns, whether the strategy is the
     * deliberately broken one, and both latency distributions as [percent, model cycles]
     * pairs ({@link VmallocSyncPlots#CDF_PERCENTILES}), so plots and merges need the JSON only.
     */
    public static Map<String, Object> jsonRow(Entry e) {
        Map<String, Object> m = columns(e);
        m.put("broken", e.row().broken());
        m.put("vmalloc_latency_cdf", cdf(e.row().vmallocLatency()));
        m.put("fork_latency_cdf", cdf(e.row().forkLatency()));
        return m;
    }

    private static List<List<Number>> cdf(Histogram h) {
        List<List<Number>> out = new ArrayList<>();
        if (h == null || h.getTotalCount() == 0) {
            return out;
        }
        for (double q : VmallocSyncPlots.CDF_PERCENTILES) {
            out.add(List.of(q, h.getValueAtPercentile(q)));
        }
        return out;
    }

    /**
     * A row read back from the JSON (a shard's output): every table column, no histograms
     * (the plots use the stored distributions) and no wall time (a merge has none of its own).
     */
    public static Entry fromJson(JsonNode n) {
        Row r = new Row(n.path("strategy").asText(), n.path("broken").asBoolean(), n.path("full_syncs").asLong(),
                n.path("entries_copied").asLong(), n.path("mms_walked").asLong(), n.path("walk_cycles").asLong(),
                n.path("vmalloc_faults").asLong(), n.path("faults_in_nmi").asLong(),
                n.path("nested_nmi_hazards").asLong(), n.path("nested_nmis").asLong(),
                n.path("vmalloc_latency_p50").asLong(), n.path("vmalloc_latency_p99").asLong(),
                n.path("vmalloc_latency_max").asLong(), n.path("fork_latency_p50").asLong(),
                n.path("fork_latency_p99").asLong(), n.path("switch_overhead").asLong(),
                n.path("page_table_bytes").asLong(), n.path("boot_table_bytes").asLong(),
                n.path("vmalloc_limit").asLong(), n.path("vmalloc_failures").asLong(), n.path("violations").asLong(),
                n.path("first_violation").isNull() ? null : n.path("first_violation").asText(null),
                n.path("events").asLong(), 0, n.path("model_cycles").asLong(), null, null,
                n.path("vmalloc_attempts").asLong(), n.path("pgd_list_walks").asLong(),
                n.path("pgd_lock_wait_cycles").asLong(), n.path("pgd_lock_hold_cycles").asLong(),
                n.path("pgd_lock_holds").asLong(), n.path("ipis").asLong(), n.path("nmis").asLong(),
                n.path("invariant4_checks").asLong());
        return new Entry(n.path("procs").asInt(), r);
    }

    /**
     * Writes the PNG plots of {@code rows} (JSON rows, see {@link #jsonRow}) into {@code dir}:
     * vmalloc-latency.png and fork-latency.png, and with more than one process count,
     * vmalloc-p99-vs-procs.png and fork-p99-vs-procs.png. Returns the files.
     */
    public static List<Path> plots(List<JsonNode> rows, Path dir, String title) throws IOException {
        List<Path> out = new ArrayList<>();
        for (Figure f : VmallocSyncPlots.figures(rows, title)) {
            Path file = dir.resolve(f.name());
            Files.write(file, f.png());
            out.add(file);
        }
        return out;
    }

    /**
     * Okabe and Ito's colour-blind-safe palette (Color Universal Design, 2008), with black for
     * the eighth strategy; curves that lie on top of each other stay apart by marker and dash.
     */
    static final java.awt.Color[] PALETTE = {new java.awt.Color(0xE69F00), new java.awt.Color(0x56B4E9),
        new java.awt.Color(0x009E73), new java.awt.Color(0xF0E442), new java.awt.Color(0x0072B2),
        new java.awt.Color(0xD55E00), new java.awt.Color(0xCC79A7), java.awt.Color.BLACK};
    private static final org.knowm.xchart.style.markers.Marker[] MARKERS = {SeriesMarkers.CIRCLE,
        SeriesMarkers.SQUARE, SeriesMarkers.DIAMOND, SeriesMarkers.TRIANGLE_UP, SeriesMarkers.TRIANGLE_DOWN,
        SeriesMarkers.CROSS, SeriesMarkers.PLUS, SeriesMarkers.OVAL};
    private static final java.awt.BasicStroke[] LINES = {org.knowm.xchart.style.lines.SeriesLines.SOLID,
        org.knowm.xchart.style.lines.SeriesLines.DASH_DASH, org.knowm.xchart.style.lines.SeriesLines.DOT_DOT,
        org.knowm.xchart.style.lines.SeriesLines.DASH_DOT};

    /** Colour, marker and dash per series, so that every curve is told apart in print and by everyone. */
    static void style(XYChart chart) {
        chart.getStyler().setMarkerSize(8);
        chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.OutsideE);
        int i = 0;
        for (org.knowm.xchart.XYSeries series : chart.getSeriesMap().values()) {
            series.setLineColor(PALETTE[i % PALETTE.length]);
            series.setMarkerColor(PALETTE[i % PALETTE.length]);
            series.setMarker(MARKERS[i % MARKERS.length]);
            series.setLineStyle(LINES[i % LINES.length]);
            i++;
        }
    }

    /**
     * A log axis only over two decades or more: on a narrower range XChart's log axis shows one
     * decade tick or none, and a linear axis with its plain ticks reads better.
     */
    static boolean wideRange(double lo, double hi) {
        return lo > 0 && hi / lo >= 100;
    }

    /** Writes {@code text} to {@code file}. */
    public static void write(Path file, String text) throws IOException {
        Files.writeString(file, text);
    }
}
