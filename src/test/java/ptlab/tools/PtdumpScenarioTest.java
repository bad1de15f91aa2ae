package ptlab.tools;

import static org.junit.jupiter.api.Assertions.*;

import java.math.BigInteger;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import ptlab.hw.PagingMode;
import ptlab.kernel.Pgtable;
import ptlab.kernel.PtDump;

/** The ptdump scenarios build on every mode they claim, and leave the page tables they describe. */
class PtdumpScenarioTest {

    static Stream<Arguments> scenarioModes() {
        return Stream.of(PtdumpScenario.values()).flatMap(s -> Stream.of(PagingMode.values())
                .filter(m -> s != PtdumpScenario.THP || m.isLongMode())
                .map(m -> Arguments.of(s, m)));
    }

    @ParameterizedTest
    @MethodSource("scenarioModes")
    void everyMmOfEveryScenarioDumpsAndTilesTheSpace(PtdumpScenario s, PagingMode mode) {
        PtdumpScenario.Result r = s.build(mode);
        assertEquals(java.util.Set.copyOf(s.mmNames()), r.mms().keySet());
        for (String name : s.mmNames()) {
            PtDump.Dump d = PtDump.walk(r.kernel(), r.mm(name));
            BigInteger sum = d.ranges().stream().map(x -> new BigInteger(Long.toUnsignedString(x.size())))
                    .reduce(BigInteger.ZERO, BigInteger::add);
            assertEquals(BigInteger.ONE.shiftLeft(mode.isLongMode() ? 64 : 32), sum, s + "/" + name);
            assertTrue(d.ranges().stream().anyMatch(PtDump.Range::present), "something is mapped in " + name);
            if (!name.equals("kernel")) {
                assertTrue(d.sections().get(0).ranges().stream().anyMatch(x -> x.present() && (x.prot() & 4) != 0),
                        "user pages in " + name);
            }
        }
    }

    private static List<PtDump.Range> userPresent(PtdumpScenario.Result r, String mm) {
        return PtDump.walk(r.kernel(), r.mm(mm)).sections().get(0).ranges().stream()
                .filter(PtDump.Range::present).toList();
    }

    private static String flags(PtDump.Range r) {
        return String.join(" ", PtDump.flagNames(r.prot(), r.level())) + " " + PtDump.levelName(r.level());
    }

    @Test
    void thpShowsAHugePmdThenTheSplitHalves() {
        List<PtDump.Range> user = userPresent(PtdumpScenario.THP.build(PagingMode.X86_64), "process");
        // the stack is untouched in this scenario: only the 4 MiB mapping is present
        assertEquals(List.of("USR RW PSE NX pmd", "USR NX pte", "USR RW NX pte"), user.stream().map(PtdumpScenarioTest::flags).toList());
        assertEquals(List.of(2L << 20, 1L << 20, 1L << 20), user.stream().map(PtDump.Range::size).toList());
        assertEquals(user.get(0).end(), user.get(1).start());
        assertEquals(user.get(1).end(), user.get(2).start());
    }

    @Test
    void forkCowParentIsReadOnlyExceptThePageItWroteAgain() {
        PtdumpScenario.Result r = PtdumpScenario.FORK_COW.build(PagingMode.X86_64);
        List<PtDump.Range> parent = userPresent(r, "parent");
        assertEquals(List.of("USR NX pte", "USR RW NX pte", "USR NX pte"), parent.stream().map(PtdumpScenarioTest::flags).toList());
        assertEquals(List.of(8192L, 4096L, 20480L), parent.stream().map(PtDump.Range::size).toList());
        List<PtDump.Range> child = userPresent(r, "child");
        assertEquals(1, child.size(), "the child never wrote: one read-only line");
        assertEquals("USR NX pte", flags(child.get(0)));
        assertEquals(8 * 4096L, child.get(0).size());
    }

    @Test
    void processHasTextDataHeapZeroPageAnonAndStack() {
        List<PtDump.Range> user = userPresent(PtdumpScenario.PROCESS.build(PagingMode.X86_64), "process");
        assertEquals(List.of("USR pte", "USR RW NX pte", "USR RW NX pte", "USR NX pte", "USR RW NX pte", "USR RW NX pte"),
                user.stream().map(PtdumpScenarioTest::flags).toList(), "text r-x, data, heap, zero page, anon, stack");
        assertEquals(List.of(3 * 4096L, 2 * 4096L, 5 * 4096L, 2 * 4096L, 4 * 4096L, 2 * 4096L),
                user.stream().map(PtDump.Range::size).toList());
        assertEquals(0x5555_5555_4000L, user.get(0).start());
        assertTrue(user.stream().allMatch(x -> x.level() == Pgtable.PTE));
    }

    @Test
    void bootDirectMapUsesLargePages() {
        PtdumpScenario.Result r = PtdumpScenario.BOOT.build(PagingMode.X86_64);
        List<PtDump.Range> kernel = PtDump.walk(r.kernel(), r.mm("kernel")).ranges().stream()
                .filter(PtDump.Range::present).toList();
        assertEquals(List.of("RW PSE GLB NX pud", "RW PSE GLB NX pmd"), kernel.stream().map(PtdumpScenarioTest::flags).toList());
        assertEquals(PtdumpScenario.RAM, kernel.stream().mapToLong(PtDump.Range::size).sum());
    }

    @Test
    void thpRefusesThe32BitModesAndUnknownNamesAreRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PtdumpScenario.THP.build(PagingMode.X86_32_PAE));
        assertTrue(e.getMessage().contains("x86-64"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> PtdumpScenario.fromCliName("nosuch"));
        assertThrows(IllegalArgumentException.class, () -> PtdumpScenario.BOOT.build(PagingMode.X86_64).mm("process"));
    }
}
