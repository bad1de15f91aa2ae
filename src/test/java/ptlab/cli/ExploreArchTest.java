package ptlab.cli;

import static ptlab.cli.Cli.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import com.fasterxml.jackson.databind.JsonNode;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --arch} on {@code explore} and {@code replay}: the machine is built in the mode asked,
 * the saved schedule records it and {@code replay} uses it; a mode the variant cannot run in, or
 * a {@code replay --arch} contradicting the file, is exit 2 with one line.
 */
@org.junit.jupiter.api.Timeout(value = 120, unit = java.util.concurrent.TimeUnit.SECONDS,
        threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
class ExploreArchTest {

    @Test
    void scheduleRecordsTheArchAndReplayUsesIt(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("pae.json");
        var r = run("explore", "vmalloc-sync-race", "--variant", "tracked-mask", "--arch", "x86-32-pae",
                "--seed", "1", "--out", file.toString(), "--format", "json");
        assertEquals(1, r.code(), r.err());
        JsonNode summary = Json.mapper().readTree(r.out());
        assertEquals("x86-32-pae", summary.get("arch").asText());
        // a 32-bit vmalloc address: the machine really was PAE
        assertTrue(summary.get("violation").asText().contains("kernel page fault at 0xc"), summary.toString());
        JsonNode saved = Json.mapper().readTree(Files.readString(file));
        assertEquals("x86-32-pae", saved.get("arch").asText());

        var replay = run("replay", file.toString(), "--format", "json");
        assertEquals(1, replay.code(), replay.err());
        JsonNode j = Json.mapper().readTree(replay.out());
        assertEquals("x86-32-pae", j.get("arch").asText());
        assertEquals(saved.get("violation").asText(), j.get("violation").asText());
        assertEquals(1, run("replay", file.toString(), "--arch", "x86-32-pae").code());

        var contradicting = run("replay", file.toString(), "--arch", "x86-64");
        assertEquals(2, contradicting.code());
        assertEquals(1, contradicting.err().strip().lines().count(), contradicting.err());
        assertTrue(contradicting.err().contains("recorded on x86-32-pae, not --arch x86-64"), contradicting.err());
    }

    @Test
    void aFileWithoutArchReplaysInTheVariantsModeOrTheOptionsMode(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("s.json");
        assertEquals(1, run("explore", "vmalloc-sync-race", "--variant", "tracked-mask", "--arch", "x86-32",
                "--seed", "1", "--out", file.toString()).code());
        ObjectNodeEdit.removeArch(file);
        // without "arch" the default mode (x86-64) builds another machine: the recorded run is not reproduced
        var asDefault = run("replay", file.toString());
        assertEquals(2, asDefault.code(), asDefault.out());
        assertTrue(asDefault.err().contains("diverged"), asDefault.err());
        assertEquals(1, run("replay", file.toString(), "--arch", "x86-32").code());
    }

    @Test
    void aModeTheVariantCannotRunInIsExitTwo() {
        var pae = run("explore", "pae-torn-entry", "--arch", "x86-64");
        assertEquals(2, pae.code());
        assertEquals("ptlab explore: scenario pae-torn-entry (variant unlocked-halves) cannot run on --arch x86-64: "
                + "it runs on x86-32-pae only", pae.err().strip());
        var unknown = run("explore", "tlb-stale-after-unmap", "--arch", "x86-16");
        assertEquals(2, unknown.code());
        assertTrue(unknown.err().contains("unknown arch 'x86-16'"), unknown.err());
    }

    @Test
    void exploreReportsTheArchItRan() throws Exception {
        JsonNode j = Cli.json("explore", "tlb-stale-after-unmap", "--variant", "munmap-shootdown", "--arch",
                "x86-64-la57", "--schedules", "5", "--format", "json");
        assertEquals("x86-64-la57", j.get("arch").asText());
        JsonNode def = Cli.json("explore", "tlb-stale-after-unmap", "--variant", "munmap-shootdown", "--schedules",
                "5", "--format", "json");
        assertEquals("x86-64", def.get("arch").asText());
        // the machine differs: la57 walks one level more per TLB miss
        assertTrue(j.get("steps").asLong() > def.get("steps").asLong(), j + " vs " + def);
    }

    @Test
    void listNamesEachVariantsModes() throws Exception {
        JsonNode list = Cli.json("explore", "--list", "--format", "json");
        for (JsonNode sc : list) {
            for (JsonNode v : sc.get("variants")) {
                assertTrue(v.get("arches").size() >= 1, sc.get("scenario") + " " + v.get("variant"));
            }
            if (sc.get("scenario").asText().equals("vmalloc-sync-race")) {
                assertEquals(4, sc.get("variants").get(0).get("arches").size());
            }
        }
        assertTrue(run("explore", "--list").out().contains("--arch x86-32-pae\n"));
    }

    /** Edits a saved schedule as an older ptlab would have written it. */
    static final class ObjectNodeEdit {
        static void removeArch(Path file) throws Exception {
            var o = (com.fasterxml.jackson.databind.node.ObjectNode) Json.mapper().readTree(Files.readString(file));
            o.remove("arch");
            Files.writeString(file, Json.writePretty(o));
        }
    }
}
