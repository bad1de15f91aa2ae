package ptlab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.ResourceLock;

/** {@code ptlab mmu probe} end to end through {@link Ptlab#execute}, with stdin replaced. */
@ResourceLock("java.lang.System.in")
class MmuProbeCommandTest {

    record Run(int exit, List<String> out, List<String> err) {
    }

    static Run probe(String stdin, String... extraArgs) {
        InputStream saved = System.in;
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        String[] args = new String[2 + extraArgs.length];
        args[0] = "mmu";
        args[1] = "probe";
        System.arraycopy(extraArgs, 0, args, 2, extraArgs.length);
        try {
            System.setIn(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)));
            int exit = Ptlab.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
            return new Run(exit, lines(out), lines(err));
        } finally {
            System.setIn(saved);
        }
    }

    static List<String> lines(StringWriter w) {
        String s = w.toString();
        return s.isEmpty() ? List.of() : List.of(s.split("\\R"));
    }

    static final String X64_WRITE = "{\"arch\":\"x86-64\",\"cpu\":{\"wp\":1,\"nxe\":1},\"va\":\"0x7f0000201123\","
            + "\"access\":\"write\",\"user\":1,\"path\":[{\"p\":1,\"rw\":1,\"us\":1},{\"p\":1,\"rw\":1,\"us\":1},"
            + "{\"p\":1,\"rw\":1,\"us\":1},{\"p\":1,\"rw\":1,\"us\":1}]}";
    static final String X32_4M = "{\"arch\":\"x86-32\",\"va\":\"0x80401abc\",\"access\":\"read\",\"user\":1,"
            + "\"path\":[{\"p\":1,\"rw\":1,\"us\":1,\"ps\":1}]}";
    static final String PAE_NX_FETCH = "{\"arch\":\"x86-32-pae\",\"cpu\":{\"nxe\":1},\"va\":\"0xc0001000\","
            + "\"access\":\"fetch\",\"user\":0,\"path\":[{\"p\":1},{\"p\":1,\"rw\":1,\"us\":0},{\"p\":1,\"rw\":1,\"us\":0,\"nx\":1}]}";
    static final String LA57_SMAP = "{\"arch\":\"x86-64-la57\",\"cpu\":{\"nxe\":1,\"smap\":1},\"va\":\"0x100000000\","
            + "\"access\":\"read\",\"user\":0,\"path\":[{\"p\":1,\"rw\":1,\"us\":1},{\"p\":1,\"rw\":1,\"us\":1},"
            + "{\"p\":1,\"rw\":1,\"us\":1,\"ps\":1}]}";
    static final String LA57_SMAP_AC = LA57_SMAP.replace("\"smap\":1", "\"smap\":1,\"ac\":1");
    static final String X64_PKEY_WRITE = "{\"arch\":\"x86-64\",\"cpu\":{\"wp\":1,\"nxe\":1,\"pke\":1,\"pkru\":8},"
            + "\"va\":\"0x7f0000201123\",\"access\":\"write\",\"user\":1,\"path\":[{\"p\":1,\"rw\":1,\"us\":1},"
            + "{\"p\":1,\"rw\":1,\"us\":1},{\"p\":1,\"rw\":1,\"us\":1,\"ps\":1,\"pkey\":1}]}";
    static final String PAE_PDPTE_RSVD = "{\"arch\":\"x86-32-pae\",\"va\":\"0x1000\","
            + "\"path\":[{\"p\":1,\"rsvd\":[1]},{\"p\":1},{\"p\":1}]}";

    @Test
    void exactJsonInAllFourModes() {
        Run r = probe(String.join("\n", X64_WRITE, X32_4M, PAE_NX_FETCH, LA57_SMAP, LA57_SMAP_AC, X64_PKEY_WRITE,
                PAE_PDPTE_RSVD) + "\n");
        assertEquals(0, r.exit());
        assertEquals(List.of(), r.err());
        assertEquals(List.of(
                // 4 KiB user write: A in all four entries, D in the PTE
                "{\"fault\":0,\"pa\":\"0x40000123\",\"page_size\":4096,\"a\":[1,1,1,1],\"d\":1}",
                // 4 MiB page (PSE): pa = frame + va bits 21:0
                "{\"fault\":0,\"pa\":\"0x40001abc\",\"page_size\":4194304,\"a\":[1],\"d\":0}",
                // supervisor fetch from an NX page with NXE=1: P|I/D = 0x11
                "{\"fault\":1,\"error_code\":17,\"exception\":\"#PF\",\"fault_entry\":\"PTE\",\"a\":[0,0,0],\"d\":0}",
                // SMAP, supervisor read of a 1 GiB user page with AC=0: P
                "{\"fault\":1,\"error_code\":1,\"exception\":\"#PF\",\"fault_entry\":\"PDPTE\",\"a\":[0,0,0],\"d\":0}",
                // ... and with AC=1 allowed
                "{\"fault\":0,\"pa\":\"0x40000000\",\"page_size\":1073741824,\"a\":[1,1,1],\"d\":0}",
                // PKRU WD1 (bit 3), user write to a 2 MiB page with pkey 1: P|W|U|PK = 0x27
                "{\"fault\":1,\"error_code\":39,\"exception\":\"#PF\",\"fault_entry\":\"PDE\",\"a\":[0,0,0],\"d\":0}",
                // PAE PDPTE with reserved bit 1 present: #GP at the CR3 load
                "{\"fault\":1,\"error_code\":0,\"exception\":\"#GP\",\"fault_entry\":\"PDPTE\",\"cr3_load_failed\":1,"
                        + "\"a\":[0,0,0],\"d\":0}"), r.out());
    }

    @Test
    void malformedLinesAnswerErrorAndTheStreamGoesOn() {
        Run r = probe(String.join("\n", "not json", X32_4M, "{\"arch\":\"x86-16\",\"va\":\"0x0\"}",
                "{\"arch\":\"x86-64\",\"va\":\"0x1000\",\"path\":[{\"p\":1,\"rsvd\":[12]}]}", "", "[1,2]", X32_4M));
        assertEquals(0, r.exit());
        assertEquals(7, r.out().size(), "one output line per input line: " + r.out());
        assertTrue(r.out().get(0).startsWith("{\"error\":\"malformed JSON"), r.out().get(0));
        assertEquals("{\"fault\":0,\"pa\":\"0x40001abc\",\"page_size\":4194304,\"a\":[1],\"d\":0}", r.out().get(1));
        assertTrue(r.out().get(2).startsWith("{\"error\":\"unknown arch 'x86-16'"), r.out().get(2));
        assertTrue(r.out().get(3).startsWith("{\"error\":\"bit 12 is not reserved"), r.out().get(3));
        assertEquals("{\"error\":\"empty line\"}", r.out().get(4));
        assertTrue(r.out().get(5).startsWith("{\"error\":"), r.out().get(5));
        assertEquals(r.out().get(1), r.out().get(6));
    }

    /** Issue 11, item 6: a request is answered as given or refused, never wrapped or half-read. */
    @Test
    void requestsThatWouldBeAnsweredForAnotherRequestAreRefused() {
        String path = ",\"path\":[{\"p\":1,\"ps\":1}]}";
        String[] refused = {
                "{\"arch\":\"x86-32\",\"va\":18446744073709555712" + path,           // 2^64 + 4096 would wrap
                "{\"arch\":\"x86-32\",\"va\":-1" + path,
                "{\"arch\":\"x86-32\",\"va\":\"-1\"" + path,
                "{\"arch\":\"x86-32\",\"va\":\"0x10000000000000000\"" + path,
                "{\"arch\":\"x86-32\",\"va\":\"0x1000\",\"va\":\"0x2000\"" + path,     // duplicate key
                "{\"arch\":\"x86-32\",\"va\":\"0x1000\"" + path + " {\"x\":1}",      // trailing text
                "{\"arch\":\"x86-32\",\"va\":\"0x1000\"" + path + "garbage",
                "{\"arch\":\"x86-32\",\"va\":\"0x1000\",\"user\":18446744073709551616" + path,
                "{\"arch\":\"x86-32\",\"va\":\"0x1000\",\"path\":[{\"p\":1,\"ps\":1,\"rsvd\":[99]}]}",
                "{\"arch\":\"x86-32\",\"va\":\"0x1000\",\"path\":[{\"p\":1,\"ps\":1,\"rsvd\":[21.5]}]}",
        };
        Run r = probe(String.join("\n", refused) + "\n");
        assertEquals(0, r.exit());
        assertEquals(refused.length, r.out().size(), r.out().toString());
        for (int i = 0; i < refused.length; i++) {
            assertTrue(r.out().get(i).startsWith("{\"error\":"), refused[i] + " -> " + r.out().get(i));
            assertTrue(!r.out().get(i).contains("Jackson") && !r.out().get(i).contains("(code "), r.out().get(i));
        }
        assertTrue(r.out().get(4).contains("duplicate key"), r.out().get(4));
        assertTrue(r.out().get(5).contains("text after the JSON object"), r.out().get(5));
        assertTrue(r.out().get(8).contains("0..31"), r.out().get(8));
        // the largest address is still an address: 2^64 - 1 as a number
        Run ok = probe("{\"arch\":\"x86-64\",\"va\":18446744073709551615,\"path\":[{\"p\":1}]}\n");
        assertTrue(ok.out().get(0).startsWith("{\"fault\":1"), ok.out().toString());
    }

    @Test
    void badFormatExitsTwoWithOneLineOnStderr() {
        Run r = probe(X32_4M + "\n", "--format", "xml");
        assertEquals(2, r.exit());
        assertEquals(List.of(), r.out());
        assertEquals(1, r.err().size(), r.err().toString());
        assertTrue(r.err().get(0).contains("--format") && r.err().get(0).contains("xml"), r.err().get(0));
    }

    @Test
    void textFormat() {
        Run r = probe(X64_WRITE + "\n" + PAE_NX_FETCH + "\n", "--format", "text");
        assertEquals(0, r.exit());
        assertEquals(List.of("pa=0x40000123 page_size=4K A=[1, 1, 1, 1] D=1",
                "#PF error_code=0x11 (protection read supervisor instruction-fetch) at PTE A=[0, 0, 0] D=0"), r.out());
    }
}
