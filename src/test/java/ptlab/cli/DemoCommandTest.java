package ptlab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import ptlab.engine.Schedule;
import ptlab.report.HtmlReport;
import ptlab.report.PlotRegistry;
import ptlab.report.ReportInputs;

class DemoCommandTest {

    @TempDir
    Path tmp;

    @Test
    void demoRunsEverySectionAndExitsZero() throws Exception {
        Cli.Run r = Cli.run("demo", "--out", tmp.toString());
        assertEquals(0, r.code(), r.err());
        for (String section : new String[] {"== 1. Page walks", "== 2. TLB behaviour", "== 3. A process", "== 4. Study 1"}) {
            assertTrue(r.out().contains(section), section + " missing:\n" + r.out());
        }
        assertTrue(r.out().contains("== 5. Study 2") && r.out().contains("=> invariant 1 (no lost dirty bit)")
                && r.out().contains("copies pte page"), "section 5: naive's lost dirty bit found and replayed");
        assertTrue(r.out().contains("x86-64-la57     256        5           5/0     0xc41d    1      0x1000"),
                r.out());
        assertTrue(r.out().contains("broken-no-sync (deliberately broken), procs 100: CPU"), "the checker catches it");
        assertTrue(r.out().lines().filter(l -> l.startsWith("   preallocate ")).anyMatch(l -> l.contains(" 262144 ")),
                "preallocate's boot page tables on x86-64 are mail 001's 256 KiB");
        // section 6 saves the race it finds; the demo ends with its report
        assertTrue(r.out().contains("== 6. Finding a race"), r.out());
        Schedule s = Schedule.load(tmp.resolve("schedule-vmalloc-sync-race.json"));
        assertTrue(s.violation().startsWith("invariant 4"), s.violation());
        Path report = tmp.resolve("report.html");
        assertTrue(r.out().contains("   report: " + report + "\n"), r.out());
        String html = Files.readString(report);
        HtmlReport.Page page = HtmlReport.render(ReportInputs.scan(List.of(tmp)), PlotRegistry.standard());
        // x86-32-pae and x86-64: a table and two latency plots each; the search and its schedule
        assertEquals(List.of("table-0", "table-1", "table-explore", "table-schedules"), page.tableIds());
        assertEquals(4, page.figureIds().size());
        for (String id : page.tableIds()) {
            assertTrue(html.contains("<table id=\"" + id + "\">"), id);
        }
        for (String id : page.figureIds()) {
            assertTrue(html.contains("<img id=\"" + id + "\" "), id);
        }
        assertTrue(html.contains("<code>ptlab experiment vmalloc-sync --arch x86-64 --procs 100 --vmallocs 2000 --cpus 4 "
                + "--seed 1</code>, seed 1, ptlab "), "each figure says how to regenerate it");
    }
}
