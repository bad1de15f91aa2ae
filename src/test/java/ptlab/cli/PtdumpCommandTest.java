package ptlab.cli;

import static org.junit.jupiter.api.Assertions.*;
import static ptlab.cli.Cli.run;

import java.math.BigInteger;

import com.fasterxml.jackson.databind.JsonNode;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import ptlab.cli.Cli.Run;
import ptlab.tools.PtdumpScenario;

class PtdumpCommandTest {

    static void assertBadInput(Run r, String mentions) {
        assertEquals(2, r.code(), r.out() + r.err());
        assertEquals("", r.out());
        assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
        assertTrue(r.err().contains(mentions), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
    }

    @Test
    void bootTextIsDebugfsFormat() {
        Run r = run("ptdump", "--arch", "x86-64", "--scenario", "boot");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("---[ User Space ]---\n"
                + "0x0000000000000000-0x0000800000000000         128T                               p4d\n"), r.out());
        assertTrue(r.out().contains("---[ Low Kernel Mapping ]---\n"
                + "0xffff888000000000-0xffff888040000000           1G     RW         PSE     GLB NX pud\n"), r.out());
        assertTrue(r.out().contains("---[ Fixmap Area ]---\n"
                + "0xffffffffff000000-0x0000000000000000          16M                               p4d\n"), r.out());
    }

    @ParameterizedTest
    @ValueSource(strings = {"x86-32", "x86-32-pae", "x86-64", "x86-64-la57"})
    void everyModePrintsBootProcessAndForkCow(String arch) {
        for (String s : new String[] {"boot", "process", "fork-cow"}) {
            Run r = run("ptdump", "--arch", arch, "--scenario", s);
            assertEquals(0, r.code(), arch + " " + s + ": " + r.err());
            assertTrue(r.out().contains("---[ User Space ]---"), r.out());
            assertEquals("", r.err());
        }
    }

    @Test
    void jsonRangesSumToTheAddressSpace() throws Exception {
        Run r = run("ptdump", "--arch", "x86-64", "--scenario", "fork-cow", "--mm", "child", "--format", "json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = Json.mapper().readTree(r.out());
        assertEquals("x86-64", j.get("arch").asText());
        assertEquals("fork-cow", j.get("scenario").asText());
        assertEquals("child", j.get("mm").asText());
        assertEquals(0, j.get("wx_pages").asLong());
        BigInteger sum = BigInteger.ZERO;
        BigInteger next = BigInteger.ZERO;
        int present = 0;
        for (JsonNode sec : j.get("sections")) {
            assertTrue(sec.get("start").asText().startsWith("0x"));
            for (JsonNode rng : sec.get("ranges")) {
                BigInteger start = new BigInteger(rng.get("start").asText().substring(2), 16);
                BigInteger end = new BigInteger(rng.get("end").asText().substring(2), 16);
                BigInteger size = rng.get("size").bigIntegerValue();
                assertEquals(next, start);
                assertEquals(end, start.add(size));
                next = end;
                sum = sum.add(size);
                assertTrue(rng.get("flags").isArray());
                assertTrue(rng.get("level").asText().matches("pgd|p4d|pud|pmd|pte"));
                if (rng.get("present").asBoolean()) {
                    present++;
                    assertTrue(rng.has("effective") && rng.has("accessed") && rng.has("dirty"));
                }
            }
        }
        assertEquals(BigInteger.ONE.shiftLeft(64), sum);
        assertTrue(present >= 3, "child's COW pages and the kernel direct map");
        assertTrue(r.out().contains("\"flags\" : [ \"USR\", \"NX\" ]"), r.out());
    }

    @Test
    void jsonWithoutNxHasNullWxPages() throws Exception {
        Run r = run("ptdump", "--arch", "x86-32", "--scenario", "boot", "--format", "json");
        assertEquals(0, r.code(), r.err());
        assertTrue(Json.mapper().readTree(r.out()).get("wx_pages").isNull());
    }

    @Test
    void listAndHelpNameEveryScenario() {
        Run list = run("ptdump", "--list");
        Run help = run("ptdump", "--help");
        assertEquals(0, list.code());
        assertEquals(0, help.code());
        for (PtdumpScenario s : PtdumpScenario.values()) {
            assertTrue(list.out().contains(s.cliName() + " "), list.out());
            assertTrue(list.out().contains("--mm " + String.join("|", s.mmNames())), list.out());
            assertTrue(help.out().contains("  " + s.cliName() + " "), help.out());
        }
    }

    @Test
    void badInputIsOneLineAndExitTwo() {
        assertBadInput(run("ptdump", "--arch", "arm64", "--scenario", "boot"), "unknown arch 'arm64'");
        assertBadInput(run("ptdump", "--arch", "x86-64", "--scenario", "nosuch"), "unknown scenario 'nosuch'");
        assertBadInput(run("ptdump", "--arch", "x86-32", "--scenario", "thp"), "scenario thp needs x86-64");
        assertBadInput(run("ptdump", "--arch", "x86-64", "--scenario", "boot", "--mm", "process"),
                "scenario boot has no mm 'process' (expected one of kernel)");
        assertBadInput(run("ptdump", "--scenario", "boot"), "missing --arch");
        assertBadInput(run("ptdump", "--arch", "x86-64"), "missing --scenario");
        assertBadInput(run("ptdump", "--arch", "x86-64", "--scenario", "boot", "--format", "xml"), "--format");
    }
}
