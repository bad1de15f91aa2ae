package ptlab.study.relocation;

import ptlab.study.relocation.PageTableMigrator.TablePage;

/**
 * {@code safe} (ptlab's design, the answer to "how do you migrate the accessed/dirty state from
 * the old ptes to the new one?"): copy, switch, flush, <em>then merge</em>, then free.
 *
 * <pre>
 *   copy_page(new, old)                   walkers may still set A/D in old ...
 *   pXd_populate(parent, new)             ... and from now on also in new
 *   flush_tlb_mm_range(freed_tables)      every CPU dropped old from TLB and paging-structure caches:
 *                                         old's A/D bits are final from here on
 *   for each entry: new |= old & (A|D)    with cmpxchg, since walkers keep setting bits in new
 *   free(old)
 * </pre>
 *
 * Why it is enough: a walker sets A/D only in a table it reached through a present entry or a
 * paging-structure cache entry; after the flush returns (every IPI acknowledged) no CPU has
 * either for the old table, so every bit a walker ever set in it is there to be merged. Bits
 * are only ever added (a walker never clears them), and the kernel does not clear them
 * meanwhile because the migrator holds mmap_lock for write. Walkers never stall: the cost is
 * two page reads and one cmpxchg per entry that changed.
 */
public final class SafeMerge implements RelocationProtocol {

    @Override
    public String name() {
        return "safe";
    }

    @Override
    public boolean broken() {
        return false;
    }

    @Override
    public String description() {
        return "copy, switch, flush every CPU, merge A/D from the old copy into the new, free";
    }

    @Override
    public MoveResult move(PageTableMigrator m, int level, long va, int node) {
        String no = m.refusal(level, va);
        if (no != null) {
            return MoveResult.refused(level, no);
        }
        m.mm().mmap_lock.down_write();
        try {
            TablePage t = m.find(level, va);
            if (t == null) {
                return MoveResult.nothing(level);
            }
            long copy = m.allocate(t, node);
            if (copy < 0) {
                return MoveResult.refused(level, "out of memory on node " + node);
            }
            m.copy(t, copy);
            m.switchTo(t, copy);
            m.flush(t, va);
            int merged = m.mergeAccessedDirty(t, copy);
            m.freeNow(t);
            return MoveResult.moved(level, t.table(), copy, merged);
        } finally {
            m.mm().mmap_lock.up_write();
        }
    }
}
