package ptlab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import org.junit.jupiter.api.Test;

class ShardSpecTest {

    @Test
    void explicitShardIsOneBased() {
        assertEquals(new ShardSpec(2, 8), ShardSpec.parse("3/8", Map.of()));
        assertEquals("3/8", ShardSpec.parse("3/8", Map.of()).label());
        assertEquals(ShardSpec.WHOLE, ShardSpec.parse(null, Map.of()));
    }

    @Test
    void kubernetesIndexedJobIndexIsZeroBased() {
        ShardSpec s = ShardSpec.parse("env/4", Map.of("JOB_COMPLETION_INDEX", "0"));
        assertEquals("1/4", s.label());
        assertEquals("4/4", ShardSpec.parse("env/4", Map.of("JOB_COMPLETION_INDEX", "3")).label());
    }

    @Test
    void slurmArrayIndexCountsFromItsMinimum() {
        assertEquals("1/3", ShardSpec.parse("env", Map.of("SLURM_ARRAY_TASK_ID", "0",
                "SLURM_ARRAY_TASK_MIN", "0", "SLURM_ARRAY_TASK_COUNT", "3")).label());
        assertEquals("3/3", ShardSpec.parse("env", Map.of("SLURM_ARRAY_TASK_ID", "3",
                "SLURM_ARRAY_TASK_MIN", "1", "SLURM_ARRAY_TASK_COUNT", "3")).label());
        assertEquals("2/5", ShardSpec.parse("env/5", Map.of("SLURM_ARRAY_TASK_ID", "1")).label());
    }

    @Test
    void ownsEveryNthRun() {
        ShardSpec s = new ShardSpec(1, 3);
        assertTrue(s.owns(1) && s.owns(4) && !s.owns(0) && !s.owns(2));
    }

    @Test
    void badSpecsNameTheProblem() {
        assertTrue(assertThrows(UsageException.class, () -> ShardSpec.parse("0/4", Map.of())).getMessage()
                .contains("1 <= K <= N"));
        assertTrue(assertThrows(UsageException.class, () -> ShardSpec.parse("5/4", Map.of())).getMessage()
                .contains("1 <= K <= N"));
        assertTrue(assertThrows(UsageException.class, () -> ShardSpec.parse("x", Map.of())).getMessage()
                .contains("K/N"));
        assertTrue(assertThrows(UsageException.class, () -> ShardSpec.parse("env/4", Map.of())).getMessage()
                .contains("JOB_COMPLETION_INDEX"));
        assertTrue(assertThrows(UsageException.class, () -> ShardSpec.parse("env", Map.of("JOB_COMPLETION_INDEX", "1")))
                .getMessage().contains("env/N"));
        assertTrue(assertThrows(UsageException.class, () -> ShardSpec.parse("env/4", Map.of("JOB_COMPLETION_INDEX", "4")))
                .getMessage().contains("outside 1..4"));
        assertTrue(assertThrows(UsageException.class, () -> ShardSpec.parse("env/4", Map.of("JOB_COMPLETION_INDEX", "a")))
                .getMessage().contains("JOB_COMPLETION_INDEX must be a number"));
    }
}
