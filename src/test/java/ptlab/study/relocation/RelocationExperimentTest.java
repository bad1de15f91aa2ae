package ptlab.study.relocation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import ptlab.engine.CostTable;
import ptlab.hw.PagingMode;
import ptlab.study.relocation.RelocationExperiment.Params;
import ptlab.study.relocation.RelocationExperiment.Placement;
import ptlab.study.relocation.RelocationExperiment.Row;
import ptlab.study.relocation.RelocationExperiment.Workload;

/**
 * Issue 12's shapes, as inequalities: with the threads on node 1 and their tables on node 0,
 * moving the tables to node 1 cuts walk cycles per TLB miss by the distance ratio on GUPS and
 * changes the run time of a scan by almost nothing; with threads on both nodes, replication
 * helps where moving cannot, and costs memory.
 */
class RelocationExperimentTest {

    static Params params(PagingMode mode, Workload w, int remote) {
        return new Params(mode, 4, 2, w, 1024, 3000, remote, 1, null, 0);
    }

    static Row row(Params p, String protocol, Placement placement) {
        return RelocationExperiment.runOne(p, RelocationProtocol.byName(protocol), placement, CostTable.defaults(),
                () -> false);
    }

    @ParameterizedTest(name = "{0}: gups walk cost drops by the distance ratio after safe moves the tables")
    @ValueSource(strings = {"x86-32", "x86-32-pae", "x86-64", "x86-64-la57"})
    void migratingCutsWalkCostByTheDistanceRatio(String arch) {
        Row r = row(params(PagingMode.fromCliName(arch), Workload.GUPS, 21), "safe", Placement.NODE);
        assertTrue(r.pagesMoved() >= 2, r.toString());
        assertTrue(r.before().tlbMisses() > 2000, "GUPS must miss the TLB: " + r.before());
        assertEquals(2.1, r.walkSpeedup(), 0.1, r.toString());
        assertTrue(r.speedup() > 1.15, r.toString());
        assertTrue(r.migrationCycles() > 0 && r.ipis() > 0, r.toString());
    }

    @Test
    void theSpeedUpFollowsTheDistanceNotAConstant() {
        Params p = params(PagingMode.X86_64, Workload.GUPS, 21);
        Row near = row(p.withRemote(12), "safe", Placement.NODE);
        Row far = row(p.withRemote(40), "safe", Placement.NODE);
        assertEquals(1.2, near.walkSpeedup(), 0.1);
        assertEquals(4.0, far.walkSpeedup(), 0.2);
        assertTrue(far.speedup() > near.speedup());
        Row flat = row(p.withRemote(10), "safe", Placement.NODE);
        assertEquals(1.0, flat.speedup(), 0.02, "one distance everywhere: nothing to gain");
    }

    @Test
    void aTlbFriendlyScanBarelyChanges() {
        Row r = row(params(PagingMode.X86_64, Workload.SCAN, 21), "safe", Placement.NODE);
        assertTrue(r.before().tlbMisses() * 20 < 3000 * 3, "a scan misses about once per 64 accesses: " + r.before());
        assertTrue(r.speedup() < 1.03 && r.speedup() > 0.97, r.toString());
    }

    @Test
    void replicationHelpsSpreadThreadsAndCostsMemory() {
        Params p = params(PagingMode.X86_64, Workload.GUPS, 21);
        Row moved = row(p, "safe", Placement.SPREAD);
        Row replicated = row(p, "replicate", Placement.SPREAD);
        assertTrue(moved.speedup() < 1.03, "moving helps one node and hurts the other: " + moved);
        assertTrue(replicated.speedup() > 1.1, replicated.toString());
        assertTrue(replicated.extraBytes() >= 4 * 4096, replicated.toString());
        assertEquals(0, moved.extraBytes());
    }

    @Test
    void experimentRowsCoverProtocolsAndPlacements() {
        List<Row> rows = RelocationExperiment.run(new Params(PagingMode.X86_64, 4, 2, Workload.GUPS, 256, 400, 21, 3,
                "random", 50), List.of("naive", "safe"), CostTable.defaults(), () -> false, s -> { });
        assertEquals(4, rows.size());
        Row naive = rows.get(0);
        assertEquals("naive", naive.protocol());
        assertEquals(1, naive.violations(), "naive's lost D found within 50 random schedules");
        assertTrue(naive.firstViolation().contains("invariant 1"), naive.firstViolation());
        assertEquals(0, rows.get(1).violations());
        assertEquals(50, rows.get(1).schedules());
    }
}
