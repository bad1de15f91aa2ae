package ptlab.study.relocation;

import ptlab.kernel.Pgtable;
import ptlab.study.relocation.PageTableMigrator.TablePage;

/**
 * {@code safe-stall}: take the old copy away from every walker <em>before</em> copying it, so no
 * A/D bit can be set in it after the copy.
 *
 * <pre>
 *   down_write(mmap_lock)
 *   pXd_clear(parent)                     xchg: the entry goes not-present
 *   flush_tlb_mm_range(freed_tables)      no CPU caches a way to the old table any more
 *   copy_page(new, old)                   nothing can write old now: the copy is exact
 *   pXd_populate(parent, new); free(old)
 *   up_write(mmap_lock)
 * </pre>
 *
 * A CPU that needs a translation through the table meanwhile walks into the cleared entry and
 * takes a page fault; do_user_addr_fault waits for mmap_lock (held for write by the migrator),
 * and after the move finds the new table and retries. Correct without any merging, but every
 * walker that misses in the window stalls for a fault and the whole move. For the pgd there
 * is no parent entry to clear: the pgd is moved as {@code safe} does (copy, switch CR3, merge).
 */
public final class SafeStall implements RelocationProtocol {

    @Override
    public String name() {
        return "safe-stall";
    }

    @Override
    public boolean broken() {
        return false;
    }

    @Override
    public String description() {
        return "clear the parent entry and flush first (walkers fault and wait for mmap_lock), then copy, switch, free";
    }

    @Override
    public MoveResult move(PageTableMigrator m, int level, long va, int node) {
        if (level == Pgtable.PGD) {
            return new SafeMerge().move(m, level, va, node);
        }
        String no = m.refusal(level, va);
        if (no != null) {
            return MoveResult.refused(level, no);
        }
        Pgtable pt = m.pgtable();
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
            pt.getAndClear(t.parentp());
            m.annotate(String.format("cleared the %s entry 0x%x: walkers now fault", pt.name(level + 1), t.parentp()));
            m.flush(t, va);
            m.copy(t, copy);
            m.switchTo(t, copy);
            m.freeNow(t);
            return MoveResult.moved(level, t.table(), copy, 0);
        } finally {
            m.mm().mmap_lock.up_write();
        }
    }
}
