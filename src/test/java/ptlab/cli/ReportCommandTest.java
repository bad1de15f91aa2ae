package ptlab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import ptlab.report.HtmlReport;
import ptlab.report.PlotRegistry;
import ptlab.report.ReportInputs;

/** {@code ptlab report}: every table and figure it promises is in the page, self-contained, with its command line. */
class ReportCommandTest {

    @TempDir
    Path tmp;

    private static final String[] EXPERIMENT = {"experiment", "vmalloc-sync", "--arch", "x86-64",
        "--vmallocs", "60", "--strategies", "lazy-fault,preallocate", "--sweep", "procs=3,4", "--jobs", "1"};

    @Test
    void reportHasEveryTableAndFigureOfExperimentAndExploreOutputs() throws Exception {
        Path vs = tmp.resolve("runs/vs");
        List<String> args = new ArrayList<>(List.of(EXPERIMENT));
        args.addAll(List.of("--out", vs.toString()));
        assertEquals(0, Cli.run(args.toArray(String[]::new)).code());
        Path sched = tmp.resolve("runs/race.json");
        Cli.Run ex = Cli.run("explore", "vmalloc-sync-race", "--out", sched.toString(), "--format", "json");
        assertEquals(1, ex.code(), ex.err());
        Files.writeString(tmp.resolve("runs/race-summary.json"), ex.out());

        Path outDir = tmp.resolve("report");
        Cli.Run r = Cli.run("report", "--from", tmp.resolve("runs").toString(), "--out", outDir.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("report: " + outDir.resolve("report.html")), r.out());
        String html = Files.readString(outDir.resolve("report.html"));

        HtmlReport.Page page = HtmlReport.render(ReportInputs.scan(List.of(tmp.resolve("runs"))), PlotRegistry.standard());
        // one study table, the explore summary table, the schedules table; a sweep has all four plots
        assertEquals(List.of("table-0", "table-explore", "table-schedules"), page.tableIds());
        assertEquals(List.of("figure-0-vmalloc-latency-png", "figure-0-fork-latency-png",
                "figure-0-vmalloc-p99-vs-procs-png", "figure-0-fork-p99-vs-procs-png"), page.figureIds());
        for (String id : page.tableIds()) {
            assertTrue(html.contains("<table id=\"" + id + "\">"), id);
        }
        assertEquals(page.tableIds().size(), count(html, "<table "));
        Matcher m = Pattern.compile("<img id=\"([^\"]+)\" alt=\"[^\"]*\" src=\"data:image/png;base64,([^\"]+)\"").matcher(html);
        List<String> imgs = new ArrayList<>();
        while (m.find()) {
            imgs.add(m.group(1));
            byte[] png = Base64.getDecoder().decode(m.group(2));
            assertEquals((byte) 0x89, png[0]);
            assertEquals("PNG", new String(png, 1, 3));
        }
        assertEquals(page.figureIds(), imgs);
        assertEquals(imgs.size(), count(html, "<img "));
        // four rows: two strategies at two process counts
        assertEquals(1 + 4, count(section(html, "table-0"), "</tr>"));
        // provenance under each table and figure: the exact command line, seed and version
        assertTrue(html.contains("<code>ptlab experiment vmalloc-sync --arch x86-64 --vmallocs 60 --strategies"), html);
        assertTrue(html.contains("<code>ptlab explore vmalloc-sync-race --out " + sched), html);
        assertTrue(count(html, ", ptlab 0.1.0") >= 1 + 4 + 2);
        // self-contained: nothing to fetch
        assertFalse(html.contains("http://") || html.contains("https://") || html.contains("<script"), "no network");
    }

    @Test
    void aStudyWithoutRegisteredPlotsShowsItsTableAndItsOwnPngs() throws Exception {
        Path dir = tmp.resolve("reloc");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("relocation.json"), """
                {"experiment":"relocation","arch":"x86-64","params":{"seed":3},
                 "rows":[{"protocol":"naive","lost_dirty_bits":2},{"protocol":"safe","lost_dirty_bits":0}],
                 "meta":{"command":"ptlab experiment relocation --arch x86-64","seed":3,"ptlab_version":"0.1.0"}}
                """);
        Files.write(dir.resolve("lost-bits.png"), Files.readAllBytes(pngOf()));
        HtmlReport.Page page = HtmlReport.render(ReportInputs.scan(List.of(dir)), PlotRegistry.standard());
        assertEquals(List.of("table-0"), page.tableIds());
        assertEquals(List.of("figure-0-lost-bits-png"), page.figureIds());
        assertTrue(page.html().contains("<th>lost_dirty_bits</th>"));
        assertTrue(page.html().contains("<tr class=\"violation\">") == false);
        assertTrue(page.html().contains("<code>ptlab experiment relocation --arch x86-64</code>, seed 3"));
    }

    @Test
    void nothingToReportIsExit2() {
        Cli.Run r = Cli.run("report", "--from", tmp.toString(), "--out", tmp.resolve("o").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("no ptlab results under"), r.err());
        Cli.Run missing = Cli.run("report", "--from", tmp.resolve("nope").toString());
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("no such file or directory"), missing.err());
    }

    private Path pngOf() throws Exception {
        Path d = tmp.resolve("png");
        List<String> args = new ArrayList<>(List.of(EXPERIMENT));
        args.addAll(List.of("--out", d.toString()));
        assertEquals(0, Cli.run(args.toArray(String[]::new)).code());
        return d.resolve("fork-latency.png");
    }

    private static String section(String html, String tableId) {
        int a = html.indexOf("<table id=\"" + tableId + "\">");
        return html.substring(a, html.indexOf("</table>", a));
    }

    private static int count(String s, String what) {
        int n = 0;
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }
}
