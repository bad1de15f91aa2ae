package ptlab.kernel;

import static org.junit.jupiter.api.Assertions.*;
import static ptlab.kernel.Kernel.*;

import java.math.BigInteger;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;
import ptlab.hw.Pte64;
import ptlab.hw.PteBits;

/**
 * The page-table dump against lines derived by hand from dump_pagetables.c's format
 * ({@code 0x%016lx-0x%016lx   %9lu%c } + printk_prot + level name) and from the tables a
 * scenario must have built.
 */
class PtDumpTest {

    private static final long PAGE = 4096;

    private static Kernel boot(PagingMode mode) {
        return new Kernel(mode, KernelConfig.defaults().withRam(64L << 20));
    }

    private static Task process(Kernel k) {
        Task t = k.createProcess();
        k.switchTo(k.cpu(0), t);
        return t;
    }

    private static void mapAndWrite(Kernel k, Task t, long va, long len) {
        assertEquals(va, k.mmap(t, va, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED));
        for (long off = 0; off < len; off += PAGE) {
            assertTrue(k.writeUserLong(k.cpu(0), va + off, off));
        }
    }

    /** The lines of the first section (User Space), without its header. */
    private static List<String> userLines(PagingMode mode, PtDump.Dump d) {
        PtDump.Section user = d.sections().get(0);
        assertEquals("User Space", user.marker().name());
        return user.ranges().stream().map(r -> PtDump.formatLine(mode, r)).toList();
    }

    /**
     * One page written at 4 MiB, lines derived from the tables it needs. x86-64: pgd 0 -> pud
     * table, pud 0 -> pmd table, pmd 2 -> pte table with pte 0 present; holes at pmds 0-1, ptes
     * 1-511, pmds 3-511, puds 1-511, p4ds (the folded pgd) 1-255, then the non-canonical hole.
     * x86-32: the PDE is tested as the pmd (p4d, pud folded into the pgd), no NX. PAE: PDPTE 0 ->
     * preallocated pmd table, pmd 2 -> pte table; PDPTEs 1 and 2 present with empty pmd tables.
     */
    static Stream<Arguments> oneUserPage() {
        return Stream.of(
                Arguments.of(PagingMode.X86_64, List.of(
                        "0x0000000000000000-0x0000000000400000           4M                               pmd",
                        "0x0000000000400000-0x0000000000401000           4K USR RW                     NX pte",
                        "0x0000000000401000-0x0000000000600000        2044K                               pte",
                        "0x0000000000600000-0x0000000040000000        1018M                               pmd",
                        "0x0000000040000000-0x0000008000000000         511G                               pud",
                        "0x0000008000000000-0x0000800000000000      130560G                               p4d",
                        "0x0000800000000000-0xffff800000000000    16776960T                               pgd")),
                Arguments.of(PagingMode.X86_32, List.of(
                        "0x00000000-0x00400000           4M                               pmd",
                        "0x00400000-0x00401000           4K USR RW                     x  pte",
                        "0x00401000-0x00800000        4092K                               pte",
                        "0x00800000-0xc0000000        3064M                               pmd")),
                Arguments.of(PagingMode.X86_32_PAE, List.of(
                        "0x00000000-0x00400000           4M                               pmd",
                        "0x00400000-0x00401000           4K USR RW                     NX pte",
                        "0x00401000-0x00600000        2044K                               pte",
                        "0x00600000-0xc0000000        3066M                               pmd")));
    }

    @ParameterizedTest
    @MethodSource("oneUserPage")
    void oneUserPage(PagingMode mode, List<String> expected) {
        Kernel k = boot(mode);
        Task t = process(k);
        mapAndWrite(k, t, 0x40_0000L, PAGE);
        PtDump.Dump d = PtDump.walk(k, t.mm());
        assertEquals(expected, userLines(mode, d));
        // every level allows user writes; a PAE PDPTE has no U/S or R/W bit (SDM 4.4.1) and restricts nothing
        PtDump.Range page = d.ranges().stream().filter(PtDump.Range::present).findFirst().orElseThrow();
        assertEquals(mode.hasNx() ? List.of("USR", "RW", "NX") : List.of("USR", "RW"),
                PtDump.effectiveFlagNames(page.effective()));
    }

    @Test
    void bootDirectMapX86_64() {
        Kernel k = new Kernel(PagingMode.X86_64, KernelConfig.defaults().withRam(1536L << 20));
        String text = PtDump.walk(k, k.initMm()).toText();
        assertTrue(text.contains("---[ Low Kernel Mapping ]---\n"
                + "0xffff888000000000-0xffff888040000000           1G     RW         PSE     GLB NX pud\n"
                + "0xffff888040000000-0xffff888060000000         512M     RW         PSE     GLB NX pmd\n"
                + "0xffff888060000000-0xffff888080000000         512M                               pmd\n"), text);
        assertTrue(text.endsWith("x86/mm: Checked W+X mappings: passed, no W+X pages found.\n"), text);
    }

    @Test
    void writtenNeighboursMergeAcrossPteTables() {
        Kernel k = boot(PagingMode.X86_64);
        Task t = process(k);
        mapAndWrite(k, t, 0x5f_f000L, 2 * PAGE);          // last pte of one table, first of the next
        List<String> lines = userLines(PagingMode.X86_64, PtDump.walk(k, t.mm()));
        assertTrue(lines.contains(
                "0x00000000005ff000-0x0000000000601000           8K USR RW                     NX pte"), lines.toString());
    }

    @Test
    void effectiveProtectionOfAParentBreaksTheLine() {
        Kernel k = boot(PagingMode.X86_64);
        Task t = process(k);
        mapAndWrite(k, t, 0x5f_f000L, 2 * PAGE);
        Pgtable pt = k.pgtable();
        int[] level = new int[1];
        long ptep = pt.walk(t.mm(), 0x60_0000L, level);
        assertEquals(Pgtable.PTE, level[0]);
        long pmdp = pt.pmd_offset(pt.pud_offset(pt.p4d_offset(pt.pgd_offset(t.mm(), 0x60_0000L), 0x60_0000L),
                0x60_0000L), 0x60_0000L);
        assertEquals(pt.table(pt.get(pmdp)), ptep & -PAGE, "the pmd entry above the second page");
        pt.set(pmdp, pt.get(pmdp) & ~PteBits.RW);          // the pte still says RW; the pmd forbids writes

        PtDump.Dump d = PtDump.walk(k, t.mm());
        List<String> lines = userLines(PagingMode.X86_64, d);
        assertTrue(lines.contains(
                "0x00000000005ff000-0x0000000000600000           4K USR RW                     NX pte"), lines.toString());
        assertTrue(lines.contains(
                "0x0000000000600000-0x0000000000601000           4K USR RW                     NX pte"), lines.toString());
        PtDump.Range second = d.ranges().stream().filter(r -> r.start() == 0x60_0000L).findFirst().orElseThrow();
        assertEquals(List.of("USR", "NX"), PtDump.effectiveFlagNames(second.effective()));
    }

    @Test
    void accessedBitBreaksTheLineAsInLinux() {
        Kernel k = boot(PagingMode.X86_64);
        Task t = process(k);
        mapAndWrite(k, t, 0x40_0000L, 3 * PAGE);
        int[] level = new int[1];
        assertTrue(k.pgtable().testAndClearYoung(k.pgtable().walk(t.mm(), 0x40_1000L, level)));
        PtDump.Dump d = PtDump.walk(k, t.mm());
        List<PtDump.Range> mapped = d.ranges().stream().filter(PtDump.Range::present)
                .filter(r -> Long.compareUnsigned(r.start(), 0x1000_0000L) < 0).toList();
        assertEquals(3, mapped.size(), "PTE_FLAGS_MASK includes A: young, old, young");
        assertEquals(List.of(true, false, true), mapped.stream().map(PtDump.Range::accessed).toList());
        assertEquals(1, mapped.stream().map(r -> PtDump.formatLine(PagingMode.X86_64, r).substring(40)).distinct().count(),
                "the three lines print the same size and flags");
    }

    @Test
    void forkLeavesTheParentsAnonymousPagesReadOnly() {
        Kernel k = boot(PagingMode.X86_64);
        Task t = process(k);
        mapAndWrite(k, t, 0x40_0000L, 4 * PAGE);
        String rw = "0x0000000000400000-0x0000000000404000          16K USR RW                     NX pte";
        String ro = "0x0000000000400000-0x0000000000404000          16K USR ro                     NX pte";
        assertTrue(userLines(PagingMode.X86_64, PtDump.walk(k, t.mm())).contains(rw));
        Task child = k.fork(t);
        assertTrue(userLines(PagingMode.X86_64, PtDump.walk(k, t.mm())).contains(ro));
        List<String> childLines = userLines(PagingMode.X86_64, PtDump.walk(k, child.mm()));
        assertTrue(childLines.contains(ro), childLines.toString());
    }

    @Test
    void thpPmdIsOneLineWithPse() {
        Kernel k = new Kernel(PagingMode.X86_64, KernelConfig.defaults().withRam(64L << 20).withThp(true));
        Task t = process(k);
        long a = k.mmap(t, 0, 2L << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        assertTrue(k.writeUserLong(k.cpu(0), a, 1));
        List<String> lines = userLines(PagingMode.X86_64, PtDump.walk(k, t.mm()));
        String huge = String.format("0x%016x-0x%016x           2M USR RW         PSE         NX pmd", a, a + (2L << 20));
        assertTrue(lines.contains(huge), lines.toString());
    }

    @Test
    void protNoneIsNotPresentButNotAHole() {
        Kernel k = boot(PagingMode.X86_64);
        Task t = process(k);
        mapAndWrite(k, t, 0x40_0000L, 2 * PAGE);
        assertEquals(0, k.mprotect(t, 0x40_1000L, PAGE, PROT_NONE));
        List<String> lines = userLines(PagingMode.X86_64, PtDump.walk(k, t.mm()));
        assertEquals(List.of(
                "0x0000000000000000-0x0000000000400000           4M                               pmd",
                "0x0000000000400000-0x0000000000401000           4K USR RW                     NX pte",
                "0x0000000000401000-0x0000000000402000           4K                               pte",
                "0x0000000000402000-0x0000000000600000        2040K                               pte"),
                lines.subList(0, 4), "the PROT_NONE pte (_PAGE_PROTNONE set) differs from the empty ones after it");
    }

    @Test
    void executableKernelPagesAreCountedAsWx() {
        Kernel k = boot(PagingMode.X86_64);
        Pgtable pt = k.pgtable();
        int[] level = new int[1];
        long p = pt.walk(k.initMm(), k.layout().pageOffset(), level);
        assertEquals(Pgtable.PMD, level[0], "64 MiB of RAM: 2 MiB direct-map pages");
        pt.set(p, pt.get(p) & ~Pte64.NX);
        PtDump.Dump d = PtDump.walk(k, k.initMm());
        assertEquals(512, d.wxPages());
        String text = d.toText();
        assertTrue(text.contains("0xffff888000000000-0xffff888000200000           2M     RW         PSE     GLB x  pmd\n"
                + "0xffff888000200000-0xffff888004000000          62M     RW         PSE     GLB NX pmd\n"), text);
        assertTrue(text.endsWith("x86/mm: Checked W+X mappings: FAILED, 512 W+X pages found.\n"), text);
    }

    @Test
    void noWxCheckWithoutNx() {
        Kernel k = boot(PagingMode.X86_32);
        PtDump.Dump d = PtDump.walk(k, k.initMm());
        assertEquals(-1, d.wxPages());
        assertFalse(d.toText().contains("W+X"));
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void linesTileTheAddressSpaceInMarkerOrder(PagingMode mode) {
        Kernel k = boot(mode);
        Task t = process(k);
        mapAndWrite(k, t, 0x40_0000L, 3 * PAGE);
        for (MmStruct m : List.of(k.initMm(), t.mm())) {
            PtDump.Dump d = PtDump.walk(k, m);
            List<PtDump.Marker> markers = PtDump.addressMarkers(k.layout());
            assertEquals(markers, d.sections().stream().map(PtDump.Section::marker).toList(), "a section per marker");
            BigInteger sum = BigInteger.ZERO;
            long expectedStart = 0;
            for (int i = 0; i < d.sections().size(); i++) {
                PtDump.Section s = d.sections().get(i);
                assertFalse(s.ranges().isEmpty(), s.marker().name());
                assertEquals(s.marker().start(), s.ranges().get(0).start(), "a section starts at its marker");
                for (PtDump.Range r : s.ranges()) {
                    assertEquals(expectedStart, r.start(), "contiguous at " + Long.toHexString(r.start()));
                    assertNotEquals(0, r.size());
                    sum = sum.add(new BigInteger(Long.toUnsignedString(r.size())));
                    expectedStart = r.end();
                }
            }
            assertEquals(BigInteger.ONE.shiftLeft(mode.isLongMode() ? 64 : 32), sum, "the lines cover the whole space");
            List<PtDump.Range> all = d.ranges();
            for (int i = 1; i < all.size(); i++) {
                PtDump.Range a = all.get(i - 1);
                PtDump.Range b = all.get(i);
                boolean atMarker = markers.stream().anyMatch(mk -> mk.start() == b.start());
                assertTrue(atMarker || a.prot() != b.prot() || a.effective() != b.effective() || a.level() != b.level()
                        || a.nonCanonical() != b.nonCanonical(), "equal neighbours are merged: " + a + " " + b);
            }
        }
    }
}
