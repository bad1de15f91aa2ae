package ptlab.study.relocation;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;
import ptlab.hw.PteBits;
import ptlab.kernel.Kernel;
import ptlab.kernel.MmStruct;
import ptlab.kernel.Pgtable;
import ptlab.kernel.PvMmuOps;

/**
 * Per-node replicas of one process's page tables, kept coherent through the paravirt page-table
 * hooks, as Mitosis does (Achermann et al., ASPLOS 2020, "Mitosis: Transparently
 * Self-Replicating Page-Tables for Large-Memory Machines", built on Linux's pv_ops).
 *
 * <pre>
 *   master (mm->pgd, the kernel's tables)      replica for node n (CR3 of node n's CPUs)
 *   pgd ─► pud ─► pmd ─► pte                     pgd' ─► pud' ─► pmd' ─► pte'
 *   every write to a master entry (set_pte, pXd_populate, clear, xchg, cmpxchg) is made to
 *   each replica too, a table pointer translated to that replica's table;
 *   every read of a master entry by the kernel (ptep_get, pte_dirty...) ORs the A and D bits
 *   the replicas' walkers set: hardware sets A/D only in the copy it walked.
 * </pre>
 *
 * The user half is replicated; the kernel half's top-level entries are copied by value (they
 * point at init_mm's shared tables). A new table the kernel links into the master is
 * replicated as an empty table on each node when it is linked (it was zeroed before).
 * Replicas of tables the kernel frees are not freed here (the model's workloads do not unmap
 * while replicated): {@link #destroy} returns them all.
 *
 * <p>Concurrency: the hooks run as kernel code on the CPU that writes the entry, under the
 * lock the kernel holds for that entry; replica entries are written with plain stores or, for
 * cmpxchg, with a compare-and-swap loop that keeps the bits the replica's walkers set. The maps
 * below are touched only by the CPU holding that lock or by the builder under mmap_lock.
 */
public final class Replicas implements PvMmuOps {

    private static final long AD = PteBits.A | PteBits.D;

    private final Kernel k;
    private final Pgtable pt;
    private final PhysicalMemory mem;
    private final MmStruct mm;
    private final int eb;
    /** master table (page address; the pgd's own address for the top) → replica per node (0 = none). */
    private final Map<Long, long[]> replicaOf = new HashMap<>();
    /** hardware level of each master table in {@link #replicaOf}. */
    private final Map<Long, Integer> levelOf = new HashMap<>();
    private final List<Long> pages = new ArrayList<>();
    private final long[] words = new long[PhysicalMemory.PAGE_SIZE / 8];
    private final long[] top;   // replica pgd per node (0 = none)
    /** Timed mode: charges the words of a page read or copied beyond the one access that stands for it. */
    private java.util.function.IntConsumer pageCharge = pages -> { };

    public Replicas(Kernel k, MmStruct mm) {
        this.k = k;
        this.pt = k.pgtable();
        this.mem = k.memory();
        this.mm = mm;
        this.eb = pt.entryBytes();
        this.top = new long[mem.nodes()];
    }

    /** {@code charge.accept(n)}: n whole pages were read or written as one access each. */
    public void setPageCharge(java.util.function.IntConsumer charge) {
        this.pageCharge = charge;
    }

    public MmStruct mm() {
        return mm;
    }

    /** The replica pgd for {@code node}, or 0. */
    public long top(int node) {
        return top[node];
    }

    /** Replica page-table pages allocated (extra memory = this × 4 KiB). */
    public long pages() {
        return pages.size();
    }

    // ---- building -------------------------------------------------------------------------------

    /** Builds the replica for {@code node} if there is none; returns its pgd, or -1 on OOM. */
    public long ensure(int node) {
        if (top[node] != 0) {
            return top[node];
        }
        PagingMode mode = k.mode();
        int levels = mode.levels();
        long pgd = mm.pgd();
        long rtop = alloc(node, levels);
        if (rtop < 0) {
            return -1;
        }
        int boundary = k.arch().kernelPgdBoundary();
        int n = k.arch().ptrsPerPgd();
        readWords(pgd);
        pageCharge.accept(1);
        int first = (int) ((pgd & (PhysicalMemory.PAGE_SIZE - 1)) / eb);
        for (int i = 0; i < n; i++) {
            long e = entry(first + i);
            if (e == 0) {
                continue;
            }
            long v = e;
            if (i < boundary && isTable(levels, e)) {
                long child = replicate(pt.table(e), levels - 1, node);
                if (child < 0) {
                    return -1;
                }
                readWords(pgd);              // the recursion reused the buffer
                v = child | (e & ~pt.table(e));
            }
            mem.storeEntry(rtop + (long) i * eb, eb, v);
        }
        register(pgd, levels, node, rtop);
        top[node] = rtop;
        return rtop;
    }

    private long replicate(long table, int level, int node) {
        long r = alloc(node, level);
        if (r < 0) {
            return -1;
        }
        register(table, level, node, r);
        if (level == 1) {
            mem.copyFrame(table, r);
            pageCharge.accept(2);
            return r;
        }
        readWords(table);
        pageCharge.accept(1);
        long[] entries = words.clone();
        for (int i = 0; i < PhysicalMemory.PAGE_SIZE / eb; i++) {
            long e = entryOf(entries, i);
            if (e == 0) {
                continue;
            }
            long v = e;
            if (isTable(level, e)) {
                long child = replicate(pt.table(e), level - 1, node);
                if (child < 0) {
                    return -1;
                }
                v = child | (e & ~pt.table(e));
            }
            mem.storeEntry(r + (long) i * eb, eb, v);
        }
        return r;
    }

    private long alloc(int node, int level) {
        long r = k.allocator().allocPageTable(node, level);
        if (r >= 0) {
            pages.add(r);
        }
        return r;
    }

    private void register(long master, int level, int node, long replica) {
        replicaOf.computeIfAbsent(master, x -> new long[top.length])[node] = replica;
        levelOf.put(master, level);
    }

    /** A present entry of hardware level {@code level} pointing at a table (not a leaf). */
    private boolean isTable(int level, long e) {
        if ((e & PteBits.P) == 0 || level == 1) {
            return false;
        }
        return !(k.mode().largePageAllowed(level) && (e & PteBits.PS) != 0);
    }

    private void readWords(long pa) {
        mem.readFrame(pa, words);
    }

    private long entry(int i) {
        return entryOf(words, i);
    }

    private long entryOf(long[] w, int i) {
        return eb == 8 ? w[i] : (w[i >>> 1] >>> ((i & 1) * 32)) & 0xFFFF_FFFFL;
    }

    // ---- which master entry is p? -------------------------------------------------------------

    /** The master table holding entry {@code p} if it is replicated, else -1. */
    private long masterOf(long p) {
        long pgd = mm.pgd();
        if (p >= pgd && p < pgd + (long) k.arch().ptrsPerPgd() * eb && replicaOf.containsKey(pgd)) {
            return pgd;
        }
        long page = p & ~(long) (PhysicalMemory.PAGE_SIZE - 1);
        return replicaOf.containsKey(page) ? page : -1;
    }

    /** {@code e}, written at entry {@code p} of master table {@code master}, as node {@code n}'s replica holds it. */
    private long translate(long master, long p, long e, int n) {
        int level = levelOf.get(master);
        boolean kernelHalf = master == mm.pgd() && (p - master) / eb >= k.arch().kernelPgdBoundary();
        if (!isTable(level, e) || kernelHalf) {
            return e;
        }
        long child = pt.table(e);
        long[] rs = replicaOf.get(child);
        if (rs == null || rs[n] == 0) {
            // a table the kernel just linked in (zeroed before): replicate it empty on every node
            for (int node = 0; node < top.length; node++) {
                if (top[node] != 0) {
                    long r = alloc(node, level - 1);
                    if (r < 0) {
                        throw new IllegalStateException("out of memory replicating a new page table");
                    }
                    mem.copyFrame(child, r);
                    register(child, level - 1, node, r);
                }
            }
            rs = replicaOf.get(child);
        }
        return rs[n] | (e & ~pt.table(e));
    }

    // ---- the hooks ----------------------------------------------------------------------------

    @Override
    public void write(long p, long e) {
        mem.storeEntry(p, eb, e);
        long master = masterOf(p);
        if (master < 0) {
            return;
        }
        long[] rs = replicaOf.get(master);
        for (int n = 0; n < rs.length; n++) {
            if (rs[n] != 0) {
                mem.storeEntry(rs[n] + (p - master), eb, translate(master, p, e, n));
            }
        }
    }

    @Override
    public long read(long p) {
        long v = mem.loadEntry(p, eb);
        long master = masterOf(p);
        if (master < 0 || (v & PteBits.P) == 0) {
            return v;
        }
        long[] rs = replicaOf.get(master);
        for (int n = 0; n < rs.length; n++) {
            if (rs[n] != 0) {
                v |= mem.loadEntry(rs[n] + (p - master), eb) & AD;   // A/D OR-ed across replicas
            }
        }
        return v;
    }

    @Override
    public long exchange(long p, long e) {
        long old = mem.exchangeEntry(p, eb, e);
        long master = masterOf(p);
        if (master < 0) {
            return old;
        }
        long[] rs = replicaOf.get(master);
        for (int n = 0; n < rs.length; n++) {
            if (rs[n] != 0) {
                old |= mem.exchangeEntry(rs[n] + (p - master), eb, translate(master, p, e, n)) & AD;
            }
        }
        return old;
    }

    @Override
    public boolean compareAndSet(long p, long expected, long value) {
        long master = masterOf(p);
        if (master < 0) {
            return mem.compareAndSetEntry(p, eb, expected, value);
        }
        // The kernel compares against what it read: the OR over the copies. Compare the master
        // without the replicas' bits, then make each replica follow, keeping the A/D bits its
        // walkers set unless the kernel cleared them (test_and_clear_young, pte_mkclean).
        long cur = mem.loadEntry(p, eb);
        if ((cur | (expected & AD)) != expected) {
            return false;
        }
        if (!mem.compareAndSetEntry(p, eb, cur, value)) {
            return false;
        }
        long cleared = expected & ~value & AD;
        long[] rs = replicaOf.get(master);
        for (int n = 0; n < rs.length; n++) {
            if (rs[n] == 0) {
                continue;
            }
            long rp = rs[n] + (p - master);
            long want = translate(master, p, value, n) & ~AD;
            while (true) {
                long rc = mem.loadEntry(rp, eb);
                long nv = want | (value & AD) | (rc & AD & ~cleared);
                if (mem.compareAndSetEntry(rp, eb, rc, nv)) {
                    break;
                }
            }
        }
        return true;
    }

    /** Frees every replica page (the CPUs must no longer use them: switch them to the master first). */
    public void destroy() {
        for (long pa : pages) {
            k.allocator().freeFrame(pa);
        }
        pages.clear();
        replicaOf.clear();
        levelOf.clear();
        java.util.Arrays.fill(top, 0);
    }
}
