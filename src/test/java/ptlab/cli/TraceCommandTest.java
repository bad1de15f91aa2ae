package ptlab.cli;

import static ptlab.cli.Cli.json;
import static ptlab.cli.Cli.run;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import com.fasterxml.jackson.databind.JsonNode;

import ptlab.cli.Cli.Run;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TraceCommandTest {


    @TempDir
    Path dir;

    Path write(String name, String text) throws Exception {
        Path p = dir.resolve(name);
        Files.writeString(p, text, StandardCharsets.US_ASCII);
        return p;
    }

    @Test
    void replayJsonHasTheContractKeys() throws Exception {
        Path t = write("t.trace", "==1== banner\nI  00400000,4\n L 00600000,8\n S 00600008,8\nbad line\n M 00600FFC,8\n");
        JsonNode j = json("trace", "replay", t.toString(), "--trace-format", "lackey", "--arch", "x86-64",
                "--format", "json");
        for (String k : new String[] {"accesses", "distinct_pages", "page_table_pages", "tlb_hits", "tlb_misses",
                "walk_memory_refs", "page_faults", "lines", "skipped_lines", "first_skipped_line", "wall_seconds",
                "lines_per_s", "interrupted", "arch", "page_size", "tlb_entries", "tlb_ways"}) {
            assertTrue(j.has(k), k);
        }
        assertEquals(6, j.get("lines").asLong());
        assertEquals(4, j.get("records").asLong());
        assertEquals(1, j.get("ignored_lines").asLong());
        assertEquals(1, j.get("skipped_lines").asLong());
        assertEquals(5, j.get("first_skipped_line").asLong());
        assertEquals(7, j.get("accesses").asLong());          // M crossing into 0x601000: 2 loads + 2 stores
        assertEquals(3, j.get("distinct_pages").asLong());
        assertEquals(3, j.get("page_faults").asLong());
        JsonNode pt = j.get("page_table_pages");
        assertEquals(1, pt.get("pgd").asLong());
        assertEquals(1, pt.get("pud").asLong());
        assertEquals(1, pt.get("pmd").asLong());
        assertEquals(2, pt.get("pte").asLong());                // 0x400000 and 0x600000 are in different 2M spans
        assertEquals(5, pt.get("total").asLong());
        assertEquals(j.get("accesses").asLong() + j.get("page_faults").asLong(),
                j.get("tlb_hits").asLong() + j.get("tlb_misses").asLong());
        assertEquals(4096, j.get("page_size").asLong());
        assertEquals(false, j.get("interrupted").asBoolean());
    }

    @Test
    void cleanTraceHasNullFirstSkippedLineAndTextOutput() throws Exception {
        Path t = write("p.trace", "# plain\nR 0x401000\nW 0x402000 8\nX 0x5ff000 4\n");
        JsonNode j = json("trace", "replay", t.toString(), "--trace-format", "plain", "--arch", "x86-64",
                "--page-size", "2M", "--tlb-entries", "8", "--tlb-ways", "2", "--format", "json");
        assertTrue(j.get("first_skipped_line").isNull());
        assertEquals(2L << 20, j.get("page_size").asLong());
        assertEquals(8, j.get("tlb_entries").asInt());
        assertEquals(1, j.get("distinct_pages").asLong());      // one THP covers 0x400000..0x5fffff
        assertEquals(1, j.get("page_faults").asLong());
        assertEquals(0, j.get("page_table_pages").get("pte").asLong());   // no pte table under a huge pmd
        Run r = run("trace", "replay", t.toString(), "--trace-format", "plain", "--arch", "x86-32-pae");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("distinct pages    3"), r.out());
        // PAE: the 32-byte pgd is a slab object, not a page; of the 3 user pmds that come with it
        // (PREALLOCATED_PMDS) the top one was freed with the initial stack vma the replay replaced
        assertTrue(r.out().contains("page-table pages  3  (pgd 0, pmd 2, pte 1)"), r.out());
        assertTrue(r.out().contains("lines/s"), r.out());
        Run plain32 = run("trace", "replay", t.toString(), "--trace-format", "plain", "--arch", "x86-32");
        assertTrue(plain32.out().contains("page-table pages  2  (pgd 1, pte 1)"), plain32.out());
    }

    @Test
    void stdinIsDash() throws Exception {
        InputStream saved = System.in;
        try {
            System.setIn(new ByteArrayInputStream("I  00400000,4\nI  00400004,4\n".getBytes(StandardCharsets.US_ASCII)));
            JsonNode j = json("trace", "replay", "-", "--trace-format", "lackey", "--arch", "x86-64-la57",
                    "--format", "json");
            assertEquals(2, j.get("accesses").asLong());
            assertEquals(1, j.get("tlb_hits").asLong());
            assertEquals(2, j.get("tlb_misses").asLong());      // the faulting walk and its retry
            assertEquals(5, j.get("page_table_pages").get("total").asLong());   // pgd p4d pud pmd pte
            assertEquals("-", j.get("trace").asText());
        } finally {
            System.setIn(saved);
        }
    }

    @Test
    void badInputIsOneLineAndExitTwo() throws Exception {
        Path t = write("ok.trace", "R 0x1\n");
        String[][] cases = {
                {"trace", "replay", dir.resolve("missing.trace").toString(), "--trace-format", "lackey", "--arch", "x86-64"},
                {"trace", "replay", dir.toString(), "--trace-format", "lackey", "--arch", "x86-64"},
                {"trace", "replay", t.toString(), "--trace-format", "pin", "--arch", "x86-64"},
                {"trace", "replay", t.toString(), "--trace-format", "plain", "--arch", "arm64"},
                {"trace", "replay", t.toString(), "--trace-format", "plain", "--arch", "x86-64", "--page-size", "1G"},
                {"trace", "replay", t.toString(), "--trace-format", "plain", "--arch", "x86-64", "--page-size", "4M"},
                {"trace", "replay", t.toString(), "--trace-format", "plain", "--arch", "x86-32", "--page-size", "4M"},
                {"trace", "replay", t.toString(), "--trace-format", "plain", "--arch", "x86-32", "--page-size", "2M"},
                {"trace", "replay", t.toString(), "--trace-format", "plain", "--arch", "x86-32-pae", "--page-size", "2M"},
                {"trace", "replay", t.toString(), "--trace-format", "plain", "--arch", "x86-64", "--ram", "1M"},
                {"trace", "replay", t.toString(), "--trace-format", "plain", "--arch", "x86-32", "--ram", "8G"},
                {"trace", "replay", t.toString(), "--trace-format", "plain", "--arch", "x86-64", "--tlb-entries", "48"},
                {"trace", "replay", t.toString(), "--trace-format", "plain", "--arch", "x86-64", "--tlb-ways", "0"},
                {"trace", "replay", t.toString(), "--trace-format", "plain", "--arch", "x86-64", "--threads", "3"},
                {"trace", "replay", t.toString(), "--trace-format", "plain", "--arch", "x86-64", "--format", "xml"},
                {"trace", "replay", t.toString(), "--arch", "x86-64"},
                {"trace", "replay", "--trace-format", "plain", "--arch", "x86-64"},
                {"trace", "generate", "--lines", "-1"},
                {"trace", "generate", "--lines", "10", "--format", "json"},
                {"trace", "generate", "--lines", "10", "-o", dir.toString()},
                {"trace", "generate", "--lines", "10", "--out", ""},
        };
        for (String[] args : cases) {
            Run r = run(args);
            String what = String.join(" ", args);
            assertEquals(2, r.code(), what + "\n" + r.out() + r.err());
            assertEquals(1, r.err().strip().lines().count(), what + ": " + r.err());
            assertEquals("", r.out(), what);
        }
        assertTrue(run(cases[0]).err().contains("no such file"));
        assertTrue(run(cases[5]).err().contains("4M pages exist only on x86-32"), run(cases[5]).err());
        assertTrue(run(cases[6]).err().contains("transparent huge pages on x86-64"), run(cases[6]).err());
    }

    @Test
    void outOfSimulatedRamIsExitTwoWithTheFix() throws Exception {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 20_000; i++) {                 // 80 MB of distinct pages
            sb.append("W 0x").append(Long.toHexString(0x1000_0000L + (long) i * 4096)).append('\n');
        }
        Path t = write("big.trace", sb.toString());
        Run r = run("trace", "replay", t.toString(), "--trace-format", "plain", "--arch", "x86-64", "--ram", "64M");
        assertEquals(2, r.code(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("raise --ram"), r.err());
        assertEquals(0, run("trace", "replay", t.toString(), "--trace-format", "plain", "--arch", "x86-64",
                "--ram", "256M").code());
    }

    @Test
    void generateWritesAFileThatReplaysClean() throws Exception {
        Path a = dir.resolve("a.trace");
        Path b = dir.resolve("b.trace");
        assertEquals(0, run("trace", "generate", "--lines", "5000", "--seed", "9", "-o", a.toString()).code());
        assertEquals(0, run("trace", "generate", "--lines", "5000", "--seed", "9", "--trace-format", "lackey", "--out",
                b.toString()).code());
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b));
        JsonNode j = json("trace", "replay", a.toString(), "--trace-format", "lackey", "--arch", "x86-64",
                "--threads", "1", "--format", "json");
        assertEquals(5000, j.get("lines").asLong());
        assertEquals(0, j.get("skipped_lines").asLong());
        JsonNode two = json("trace", "replay", a.toString(), "--trace-format", "lackey", "--arch", "x86-64",
                "--threads", "2", "--format", "json");
        for (String k : new String[] {"accesses", "distinct_pages", "page_table_pages", "tlb_hits", "tlb_misses",
                "walk_memory_refs", "page_faults", "lines", "records"}) {
            assertEquals(j.get(k), two.get(k), k + " with --threads 2");
        }
        Path p = dir.resolve("p.trace");
        assertEquals(0, run("trace", "generate", "--lines", "3000", "--trace-format", "plain", "--arch", "x86-32",
                "-o", p.toString()).code());
        JsonNode q = json("trace", "replay", p.toString(), "--trace-format", "plain", "--arch", "x86-32",
                "--format", "json");
        assertEquals(3000, q.get("records").asLong());
        assertEquals(0, q.get("out_of_range").asLong());
    }
}
