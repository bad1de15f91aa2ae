package ptlab.tools;

import java.util.SplittableRandom;

import ptlab.hw.AccessType;
import ptlab.hw.CpuRegisters;
import ptlab.hw.Mmu;
import ptlab.hw.PageWalker;
import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;
import ptlab.hw.PteBits;
import ptlab.hw.TlbConfig;
import ptlab.hw.WalkResult;

/**
 * Page-table setups for measuring the walker, shared by the JMH benchmarks
 * ({@code bench/src/main/java/ptlab/bench}) and {@code ptlab bench walk}.
 *
 * <p>A {@link Workload} maps {@code pages} consecutive 4 KiB pages from {@code baseVa} in fresh
 * physical memory, every entry present, writable, user, with A set (and D on the leaves), so a
 * read walk never needs a compare-and-swap. Page tables are allocated bottom-up from 0x1000;
 * the mapped data frames lie above them and are never written, so they take no heap.
 * {@link Workload#vas} holds the addresses to translate, a power-of-two count, cycled in order.
 */
public final class WalkWorkloads {

    private WalkWorkloads() {
    }

    /** Pages mapped by the "random among many pages" walks: 16 MiB, whose tables stay in cache. */
    public static final int MANY_PAGES = 4096;
    /** Pages of the 1 GiB random-access workload. */
    public static final int GIB_PAGES = 1 << 18;
    /** Addresses precomputed for a random workload (cycled). */
    public static final int RANDOM_VAS = 1 << 16;

    private static final long TABLE_FLAGS = PteBits.P | PteBits.RW | PteBits.US | PteBits.A;
    private static final long LEAF_FLAGS = TABLE_FLAGS | PteBits.D;

    /** A ready-to-walk setup: memory, registers, walker, a reusable result and the addresses to translate. */
    public static final class Workload {
        public final PagingMode mode;
        public final PhysicalMemory memory;
        public final CpuRegisters regs;
        public final PageWalker walker;
        public final WalkResult out = new WalkResult();
        /** An MMU (default TLB) on the same memory and registers, for TLB-hit measurements. */
        public final Mmu mmu;
        public final long baseVa;
        public final int pages;
        public final long[] vas;
        private final int mask;
        private int next;

        Workload(PagingMode mode, PhysicalMemory memory, CpuRegisters regs, long baseVa, int pages, long[] vas) {
            this.mode = mode;
            this.memory = memory;
            this.regs = regs;
            this.walker = new PageWalker(memory);
            this.mmu = new Mmu(memory, regs, TlbConfig.DEFAULT);
            this.baseVa = baseVa;
            this.pages = pages;
            this.vas = vas;
            this.mask = vas.length - 1;
        }

        /** Translates the next address of {@link #vas} (a read); returns the physical address. */
        public long translateNext() {
            long va = vas[next++ & mask];
            if (!walker.translate(regs, va, AccessType.READ, false, false, out)) {
                throw new IllegalStateException("unexpected fault: " + out);
            }
            return out.pa;
        }

        /** Translates the next address of {@link #vas} through {@link #mmu} (TLB first); returns the physical address. */
        public long translateNextMmu() {
            long va = vas[next++ & mask];
            if (!mmu.translate(va, AccessType.READ, false, false, out)) {
                throw new IllegalStateException("unexpected fault: " + out);
            }
            return out.pa;
        }

        /** {@link #run(long)} through {@link #mmu}. */
        public long runMmu(long n) {
            long acc = 0;
            for (long i = 0; i < n; i++) {
                acc += translateNextMmu();
            }
            return acc;
        }

        /** Translates {@code n} addresses; returns a value depending on every result (to defeat dead-code elimination). */
        public long run(long n) {
            long acc = 0;
            for (long i = 0; i < n; i++) {
                acc += translateNext();
            }
            return acc;
        }
    }

    /** The linear address the workloads of {@code mode} start at. */
    public static long baseVa(PagingMode mode) {
        return switch (mode) {
            case X86_32, X86_32_PAE -> 0x4000_0000L;
            case X86_64 -> 0x7f12_3400_0000L;
            case X86_64_LA57 -> 0x00ab_cdef_0000_0000L;
        };
    }

    /** One mapped page, translated again and again (same VA, tables hot). */
    public static Workload samePage(PagingMode mode) {
        return build(mode, 1, new long[] {baseVa(mode) + 0x123});
    }

    /** {@value #MANY_PAGES} mapped pages, translated in a random order. */
    public static Workload randomManyPages(PagingMode mode, long seed) {
        return random(mode, MANY_PAGES, seed);
    }

    /** 1 GiB mapped with 4 KiB pages, translated at random addresses. */
    public static Workload random1GiB(PagingMode mode, long seed) {
        return random(mode, GIB_PAGES, seed);
    }

    /** {@code pages} mapped 4 KiB pages, {@value #RANDOM_VAS} random addresses among them. */
    public static Workload random(PagingMode mode, int pages, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        long base = baseVa(mode);
        long[] vas = new long[RANDOM_VAS];
        for (int i = 0; i < vas.length; i++) {
            vas[i] = base + ((long) rnd.nextInt(pages) << PhysicalMemory.PAGE_SHIFT) + (rnd.nextInt(512) << 3);
        }
        return build(mode, pages, vas);
    }

    /** Maps {@code pages} 4 KiB pages from {@link #baseVa(PagingMode)} and returns the workload for {@code vas}. */
    public static Workload build(PagingMode mode, int pages, long[] vas) {
        if (Integer.bitCount(vas.length) != 1) {
            throw new IllegalArgumentException("address count must be a power of two, got " + vas.length);
        }
        long baseVa = baseVa(mode);
        long dataBytes = (long) pages << PhysicalMemory.PAGE_SHIFT;
        // Tables: one PTE page per 512 (1024 for 32-bit) pages, plus the levels above; generous bound.
        long tableArea = ((pages / 256L) + 64) << PhysicalMemory.PAGE_SHIFT;
        long dataBase = (tableArea + (1L << 21) - 1) & -(1L << 21);
        PhysicalMemory memory = new PhysicalMemory(dataBase + dataBytes);
        CpuRegisters regs = new CpuRegisters(mode);
        Builder b = new Builder(mode, memory, PhysicalMemory.PAGE_SIZE, dataBase);
        long root = b.allocTable();
        regs.setCr3(root);
        for (int i = 0; i < pages; i++) {
            b.map(root, baseVa + ((long) i << PhysicalMemory.PAGE_SHIFT), dataBase + ((long) i << PhysicalMemory.PAGE_SHIFT));
        }
        Workload w = new Workload(mode, memory, regs, baseVa, pages, vas);
        if (mode.isPae() && !w.walker.loadPdptes(regs)) {
            throw new IllegalStateException("PDPTE load failed");
        }
        for (long va : vas) {   // check every address translates before anyone times it
            if (!w.walker.translate(regs, va, AccessType.READ, false, false, w.out)) {
                throw new IllegalStateException("workload address does not translate: " + w.out);
            }
        }
        return w;
    }

    /** Bump allocator of zeroed table frames, and the entry writer. */
    private static final class Builder {
        private final PagingMode mode;
        private final PhysicalMemory memory;
        private final int bytes;
        private final long limit;
        private long nextFrame;

        Builder(PagingMode mode, PhysicalMemory memory, long firstFrame, long limit) {
            this.mode = mode;
            this.memory = memory;
            this.bytes = mode.entryBytes();
            this.nextFrame = firstFrame;
            this.limit = limit;
        }

        long allocTable() {
            if (nextFrame >= limit) {
                throw new IllegalStateException("page-table area exhausted");
            }
            long pa = nextFrame;
            nextFrame += PhysicalMemory.PAGE_SIZE;
            memory.zeroFrame(pa);
            memory.storeLong(pa, 0);   // back the frame now, as the kernel's clear_page would
            return pa;
        }

        void map(long root, long va, long pa) {
            long table = root;
            for (int level = mode.levels(); level > 1; level--) {
                long entryAddress = table + (long) mode.index(va, level) * bytes;
                long e = memory.loadEntry(entryAddress, bytes);
                if (!PteBits.present(e)) {
                    long next = allocTable();
                    // PAE PDPTEs take no R/W, U/S or A: those bits are reserved there.
                    e = next | (mode.isPae() && level == 3 ? PteBits.P : TABLE_FLAGS);
                    memory.storeEntry(entryAddress, bytes, e);
                }
                table = e & ~0xFFFL & ((1L << 52) - 1);
            }
            memory.storeEntry(table + (long) mode.index(va, 1) * bytes, bytes, pa | LEAF_FLAGS);
        }
    }
}
