package ptlab.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import ptlab.hw.PagingMode;

class KernelLayoutTest {

    static final long K = 1L << 10, M = 1L << 20, G = 1L << 30, T = 1L << 40;

    /**
     * Mail 001 (Roedel): PAE, VMSPLIT_1G, 512 MB RAM, 8 MB at the top:
     *   kernel PMD entries = (4G - 0x40000000) / 2M = 3G / 2M = 1536
     *   direct map         = 512M / 2M = 256
     *   hole               = VMALLOC_OFFSET 8M / 2M = 4
     *   top                = 8M / 2M = 4
     *   vmalloc            = 1536 - 256 - 4 - 4 = 1272
     */
    @Test
    void mail001Check() {
        KernelLayout l = KernelLayout.of(PagingMode.X86_32_PAE, VmSplit.VMSPLIT_1G, 512 * M, 8 * M);
        assertEquals("pmd", l.syncLevel());
        assertEquals(1536, l.kernelEntriesAtSyncLevel());
        assertEquals(256, l.directMapEntries());
        assertEquals(4, l.holeEntries());
        assertEquals(4, l.topReservedEntries());
        assertEquals(1272, l.vmallocEntries());
        assertEquals(0x40000000L, l.pageOffset());
        assertEquals(0x60800000L, l.vmallocStart());          // 0x40000000 + 512M + 8M
        assertEquals(0xff7fffffL, l.vmallocEnd());            // 4G - 8M - 1
        assertEquals(1272 * 2 * M, l.vmallocSize());
        // preallocating a 4 KiB PTE page per vmalloc PMD entry
        assertEquals(1272, l.preallocPages());
        assertEquals(1272 * 4 * K, l.preallocBytes());
    }

    /** Mail 001: "1536, 1024, or 512 of these second-level entries" for 1G/2G/3G splits. */
    @Test
    void paeKernelPmdEntriesPerSplit() {
        assertEquals(1536, KernelLayout.of(PagingMode.X86_32_PAE, VmSplit.VMSPLIT_1G, G, null).kernelEntriesAtSyncLevel());
        assertEquals(1024, KernelLayout.of(PagingMode.X86_32_PAE, VmSplit.VMSPLIT_2G, G, null).kernelEntriesAtSyncLevel());
        assertEquals(512, KernelLayout.of(PagingMode.X86_32_PAE, VmSplit.VMSPLIT_3G, G, null).kernelEntriesAtSyncLevel());
    }

    /** Mail 001: non-PAE "it can be 768, 512, or 256" top-level entries, 4 MB each. */
    @Test
    void nonPaeKernelPgdEntriesPerSplit() {
        assertEquals(768, KernelLayout.of(PagingMode.X86_32, VmSplit.VMSPLIT_1G, G, null).kernelEntriesAtSyncLevel());
        assertEquals(512, KernelLayout.of(PagingMode.X86_32, VmSplit.VMSPLIT_2G, G, null).kernelEntriesAtSyncLevel());
        KernelLayout l = KernelLayout.of(PagingMode.X86_32, VmSplit.VMSPLIT_3G, G, null);
        assertEquals(256, l.kernelEntriesAtSyncLevel());
        assertEquals("pgd", l.syncLevel());
    }

    /**
     * Every split and both 32-bit modes, 512M and 4G RAM, with the default top reserve, against the
     * kernel's definitions evaluated by hand here:
     *   FIXADDR_TOT_START   = 0xfffff000 - 1024 pages
     *   CPU_ENTRY_AREA_BASE = (FIXADDR_TOT_START - 4K * 321) & PMD_MASK
     *   LDT_BASE_ADDR       = (CPU_ENTRY_AREA_BASE - 4K) & PMD_MASK
     *   PKMAP_BASE          = (LDT_BASE_ADDR - 4K) & PMD_MASK
     *   VMALLOC_END         = PKMAP_BASE - 8K
     *   PAE (PMD 2M): 0xffbff000 - 0x141000 = 0xffabe000 -> 0xffa00000 -> 0xff800000 -> 0xff600000;
     *                 VMALLOC_END = 0xff5fe000
     *   non-PAE (4M): 0xffabe000 -> 0xff800000 -> 0xff400000 -> 0xff000000; VMALLOC_END = 0xfeffe000
     *   MAXMEM = VMALLOC_END - PAGE_OFFSET - 128M; lowmem = min(RAM, MAXMEM);
     *   VMALLOC_START = PAGE_OFFSET + lowmem + 8M.
     *   Entries (span S): direct = ceil(lowmem/S), vmalloc from floor((VMALLOC_START-PAGE_OFFSET)/S)
     *   to ceil((VMALLOC_END-PAGE_OFFSET)/S), the rest above.
     */
    @Test
    void everySplitAndMode32() {
        for (PagingMode mode : List.of(PagingMode.X86_32, PagingMode.X86_32_PAE)) {
            long s = mode == PagingMode.X86_32_PAE ? 2 * M : 4 * M;
            long vmallocEnd = mode == PagingMode.X86_32_PAE ? 0xff5fe000L : 0xfeffe000L;
            for (VmSplit split : VmSplit.values()) {
                for (long ram : new long[] {512 * M, 4 * G}) {
                    KernelLayout l = KernelLayout.of(mode, split, ram, null);
                    long po = split.pageOffset();
                    long maxmem = vmallocEnd - po - 128 * M;
                    long lowmem = Math.min(ram, maxmem);
                    long vstart = po + lowmem + 8 * M;
                    String what = mode + " " + split + " " + ram;
                    assertEquals(maxmem, l.maxmem(), what);
                    assertEquals(4 * G - vmallocEnd, l.topReserveBytes(), what);
                    assertEquals(vstart, l.vmallocStart(), what);
                    assertEquals(vmallocEnd - 1, l.vmallocEnd(), what);
                    long total = (4 * G - po) / s;
                    long direct = Math.ceilDiv(lowmem, s);
                    long first = (vstart - po) / s;
                    long last = Math.ceilDiv(vmallocEnd - po, s);
                    assertEquals(total, l.kernelEntriesAtSyncLevel(), what);
                    assertEquals(direct, l.directMapEntries(), what);
                    assertEquals(first - direct, l.holeEntries(), what);
                    assertEquals(last - first, l.vmallocEntries(), what);
                    assertEquals(total - last, l.topReservedEntries(), what);
                    assertEquals(total, l.directMapEntries() + l.holeEntries() + l.vmallocEntries()
                            + l.topReservedEntries(), what);
                }
            }
        }
    }

    /** PAE 3G, 512M, default reserve: 512 - 256 - 4 - 5 (0xff5fe000 lies in the PMD at 0xff400000) = 247. */
    @Test
    void paeDefaultThreeG() {
        KernelLayout l = KernelLayout.of(PagingMode.X86_32_PAE, VmSplit.VMSPLIT_3G, 512 * M, null);
        assertEquals(10 * M + 8 * K, l.topReserveBytes());
        assertEquals(5, l.topReservedEntries());
        assertEquals(247, l.vmallocEntries());
        assertEquals(0xc0000000L, l.pageOffset());
    }

    /** With RAM beyond MAXMEM the vmalloc area still gets __VMALLOC_RESERVE = 128M (64 PAE PMDs), "at least 64". */
    @Test
    void vmallocAtLeastReserveWithHighmem() {
        KernelLayout l = KernelLayout.of(PagingMode.X86_32_PAE, VmSplit.VMSPLIT_3G, 16 * G, 8 * M);
        // MAXMEM = 0xff800000 - 0xc0000000 - 128M = 888M; vmalloc = 1016M - 888M - 8M = 120M = 60 entries,
        // plus the entries of the hole's partial PMDs: none, everything 2M aligned.
        assertEquals(888 * M, l.maxmem());
        assertEquals(444, l.directMapEntries());
        assertEquals(4, l.holeEntries());
        assertEquals(60, l.vmallocEntries());
    }

    /**
     * x86-64 (mm.rst): vmalloc 0xffffc90000000000..0xffffe8ffffffffff = 32 TiB; a pgd entry maps
     * 2^39 = 512 GiB, so 32T / 512G = 64 entries, each needing one 4 KiB PUD page: 256 KiB (mail 001).
     * Upper half from 0xffff800000000000: PAGE_OFFSET index (0x888 << 36) / 2^39 = 17,
     * VMALLOC_START index 0x490 << 36 / 2^39 = 146, top = 256 - 146 - 64 = 46.
     */
    @Test
    void x86_64() {
        KernelLayout l = KernelLayout.of(PagingMode.X86_64, null, 512 * M, null);
        assertEquals("pgd", l.syncLevel());
        assertEquals(0xffff888000000000L, l.pageOffset());
        assertEquals(0xffffc90000000000L, l.vmallocStart());
        assertEquals(0xffffe8ffffffffffL, l.vmallocEnd());
        assertEquals(32 * T, l.vmallocSize());
        assertEquals(256, l.kernelEntriesAtSyncLevel());
        assertEquals(17, l.belowPageOffsetEntries());
        assertEquals(1, l.directMapEntries());
        assertEquals(146 - 17 - 1, l.holeEntries());
        assertEquals(64, l.vmallocEntries());
        assertEquals(46, l.topReservedEntries());
        assertEquals("pud", l.preallocTableLevel());
        assertEquals(64, l.preallocPages());
        assertEquals(256 * K, l.preallocBytes());
    }

    /** RAM changes only the direct map on x86-64: 2T of RAM = 4 pgd entries. */
    @Test
    void x86_64RamOnlyMovesDirectMap() {
        KernelLayout a = KernelLayout.of(PagingMode.X86_64, null, 512 * M, null);
        KernelLayout b = KernelLayout.of(PagingMode.X86_64, null, 2 * T, null);
        assertEquals(4, b.directMapEntries());
        assertEquals(a.vmallocStart(), b.vmallocStart());
        assertEquals(a.vmallocEntries(), b.vmallocEntries());
        assertEquals(a.holeEntries() - 3, b.holeEntries());
    }

    /**
     * la57 (mm.rst): vmalloc 0xffa0000000000000.., 12800 TiB; a pgd entry maps 2^48 = 256 TiB,
     * 12800 / 256 = 50 entries -> 50 P4D pages = 200 KiB. Upper half from 0xff00000000000000:
     * PAGE_OFFSET 0xff11… is index 0x11 = 17, VMALLOC_START index 0xa0 = 160, top = 256 - 210 = 46.
     */
    @Test
    void la57() {
        KernelLayout l = KernelLayout.of(PagingMode.X86_64_LA57, null, 512 * M, null);
        assertEquals(0xff11000000000000L, l.pageOffset());
        assertEquals(0xffa0000000000000L, l.vmallocStart());
        assertEquals(12800 * T, l.vmallocSize());
        assertEquals(0xffd1ffffffffffffL, l.vmallocEnd());
        assertEquals(256, l.kernelEntriesAtSyncLevel());
        assertEquals(17, l.belowPageOffsetEntries());
        assertEquals(1, l.directMapEntries());
        assertEquals(160 - 17 - 1, l.holeEntries());
        assertEquals(50, l.vmallocEntries());
        assertEquals(46, l.topReservedEntries());
        assertEquals("p4d", l.preallocTableLevel());
        assertEquals(200 * K, l.preallocBytes());
    }

    /** Regions tile the kernel's address space without gaps or overlaps. */
    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void regionsTile(PagingMode mode) {
        KernelLayout l = KernelLayout.of(mode, null, G, null);
        List<Region> rs = l.regions();
        long expectStart = mode.isLongMode() ? -(1L << (mode.vaBits() - 1)) : l.pageOffset();
        for (Region r : rs) {
            assertEquals(expectStart, r.start(), r.name());
            expectStart = r.end() + 1;
        }
        assertEquals(mode.isLongMode() ? 0L : 1L << 32, expectStart);
    }

    @Test
    void badInput() {
        assertThrows(IllegalArgumentException.class,
                () -> KernelLayout.of(PagingMode.X86_64, VmSplit.VMSPLIT_1G, G, null));
        assertThrows(IllegalArgumentException.class,
                () -> KernelLayout.of(PagingMode.X86_32, VmSplit.VMSPLIT_3G, G, 1L << 30));
        assertThrows(IllegalArgumentException.class,
                () -> KernelLayout.of(PagingMode.X86_32, VmSplit.VMSPLIT_3G, G, 12345L));
    }
}
