package ptlab.study.relocation;

import java.util.List;

import org.junit.jupiter.api.Test;

import ptlab.engine.CostTable;
import ptlab.hw.PagingMode;
import ptlab.study.relocation.RelocationExperiment.Params;
import ptlab.study.relocation.RelocationExperiment.Row;
import ptlab.study.relocation.RelocationExperiment.Workload;

class RelocationExperimentTest {

    @Test
    void print() {
        for (Workload w : Workload.values()) {
            long t0 = System.nanoTime();
            Params p = new Params(PagingMode.X86_64, 4, 2, w, 4096, 20000, 21, 1, null, 0);
            List<Row> rows = RelocationExperiment.run(p, List.of("naive", "safe", "safe-stall", "replicate"),
                    CostTable.defaults(), () -> false, s -> { });
            for (Row r : rows) {
                System.out.println(w + " " + r);
            }
            System.out.println((System.nanoTime() - t0) / 1e9 + " s");
        }
    }
}
