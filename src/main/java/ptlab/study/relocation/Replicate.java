package ptlab.study.relocation;

import ptlab.kernel.Cpu;
import ptlab.kernel.Pgtable;

/**
 * {@code replicate} (Mitosis): instead of moving the tables, give the target node a replica of
 * the whole user half and point that node's CPUs at it; the master stays where it is and every
 * later update is made to all copies ({@link Replicas}, through the paravirt page-table hooks).
 *
 * <p>Why no A/D bit is lost: no copy is ever taken away. A walker still using the master while
 * the replica is built sets A/D in the master; one using the replica sets them there; the
 * kernel reads A/D as the OR over all copies (Replicas.read), and clears them in all.
 * The price is memory (one set of tables per node) and a write per copy on every update.
 * {@code level} is ignored: the unit of replication is the whole tree.
 */
public final class Replicate implements RelocationProtocol {

    private Replicas replicas;

    @Override
    public String name() {
        return "replicate";
    }

    @Override
    public boolean broken() {
        return false;
    }

    @Override
    public String description() {
        return "per-node replicas of the page tables, updated together; A/D OR-ed across replicas on kernel reads";
    }

    /** The replicas this protocol made (null before the first move). */
    public Replicas replicas() {
        return replicas;
    }

    @Override
    public MoveResult move(PageTableMigrator m, int level, long va, int node) {
        if (m.mm().isInitMm()) {
            return MoveResult.refused(level, "init_mm's tables are not replicated: the kernel updates init_mm without locks");
        }
        Pgtable pt = m.pgtable();
        if (replicas == null) {
            if (pt.pvOps() != null) {
                return MoveResult.refused(level, "paravirt page-table ops already installed: replication needs them");
            }
            replicas = new Replicas(m.kernel(), m.mm());
        }
        m.mm().mmap_lock.down_write();
        try {
            replicas.setPageCharge(n -> m.chargePage(n, 0));
            long before = replicas.pages();
            long top = replicas.ensure(node);
            if (top < 0) {
                return MoveResult.refused(level, "out of memory on node " + node);
            }
            pt.setPvOps(replicas);
            m.addPagesMoved(replicas.pages() - before);
            // every CPU of that node running the mm switches to the replica (a CR3 load: full flush)
            m.onEachCpuOfMm(c -> loadReplica(c, node));
            return MoveResult.moved(Pgtable.PGD, m.mm().pgd(), top, 0);
        } finally {
            m.mm().mmap_lock.up_write();
        }
    }

    private void loadReplica(Cpu c, int node) {
        if (c.node() != node || replicas.top(node) == 0) {
            return;
        }
        long cr3 = c.registers().cr3();
        long pcid = c.registers().pcide() ? cr3 & 0xFFF : 0;
        if (!c.mmu().writeCr3(replicas.top(node) | pcid)) {
            throw new IllegalStateException("CR3 load of the replica took #GP");
        }
    }
}
