package ptlab.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

import ptlab.hw.PagingMode;
import ptlab.kernel.vmalloc.VmallocSyncStrategy;

class VmallocSyncExperimentTest {

    @Test
    void smoke() {
        for (PagingMode m : PagingMode.values()) {
            var p = new VmallocSyncExperiment.Params(m, 200, 3000, 4, 50, 1, VmallocSyncExperiment.Params.defaultRam(m));
            for (var s : VmallocSyncStrategy.all()) {
                var r = VmallocSyncExperiment.run(p, s, CostTable.defaults());
                System.out.printf("%-12s %-17s syncs=%d copied=%d faults=%d nmi=%d haz=%d nested=%d vm50=%d vm99=%d f50=%d f99=%d sw=%d pt=%d boot=%d lim=%d fail=%d viol=%d ev=%d %.2fs %s%n",
                        m, r.strategy(), r.fullSyncs(), r.entriesCopied(), r.vmallocFaults(), r.faultsInNmi(), r.nestedNmiHazards(), r.nestedNmis(),
                        r.vmallocLatencyP50(), r.vmallocLatencyP99(), r.forkLatencyP50(), r.forkLatencyP99(), r.switchOverhead(), r.pageTableBytes(),
                        r.bootTableBytes(), r.vmallocLimit(), r.vmallocFailures(), r.violations(), r.events(), r.wallSeconds(), r.firstViolation());
            }
        }
        assertEquals(1, 1);
    }
}
