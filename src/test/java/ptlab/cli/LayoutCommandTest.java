package ptlab.cli;

import static ptlab.cli.Cli.json;
import static ptlab.cli.Cli.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;


import com.fasterxml.jackson.databind.JsonNode;

import ptlab.cli.Cli.Run;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import picocli.CommandLine;

class LayoutCommandTest {


    @Test
    void mail001Json() throws Exception {
        JsonNode j = json("layout", "--arch", "x86-32-pae", "--vmsplit", "1G", "--ram", "512M",
                "--top-reserve", "8M", "--format", "json");
        assertEquals("0x40000000", j.get("page_offset").asText());
        assertEquals("0x60800000", j.get("vmalloc_start").asText());
        assertEquals("0xff7fffff", j.get("vmalloc_end").asText());
        assertEquals(1272L * (2 << 20), j.get("vmalloc_size").asLong());
        assertEquals("pmd", j.get("sync_level").asText());
        assertEquals(1536, j.get("kernel_entries_at_sync_level").asInt());
        assertEquals(256, j.get("direct_map_entries").asInt());
        assertEquals(4, j.get("hole_entries").asInt());
        assertEquals(1272, j.get("vmalloc_entries").asInt());
        assertEquals(4, j.get("top_reserved_entries").asInt());
        assertEquals(1272, j.get("prealloc_pages").asInt());
        assertEquals(1272L * 4096, j.get("prealloc_bytes").asLong());
        assertTrue(j.get("regions").isArray());
    }

    @Test
    void x86_64JsonKeys() throws Exception {
        JsonNode j = json("layout", "--arch", "x86-64", "--format", "json");
        for (String k : new String[] {"page_offset", "vmalloc_start", "vmalloc_end", "vmalloc_size", "sync_level",
                "kernel_entries_at_sync_level", "direct_map_entries", "hole_entries", "vmalloc_entries",
                "top_reserved_entries", "prealloc_pages", "prealloc_bytes", "arch", "regions"}) {
            assertTrue(j.has(k), k);
        }
        assertEquals("0xffff888000000000", j.get("page_offset").asText());
        assertEquals("0xffffc90000000000", j.get("vmalloc_start").asText());
        assertEquals("0xffffe8ffffffffff", j.get("vmalloc_end").asText());
        assertEquals(32L << 40, j.get("vmalloc_size").asLong());
        assertEquals("pgd", j.get("sync_level").asText());
        assertEquals(64, j.get("prealloc_pages").asInt());
        assertEquals(256 * 1024, j.get("prealloc_bytes").asLong());
        JsonNode first = j.get("regions").get(0);
        assertTrue(first.get("start").asText().startsWith("0x"));
        assertTrue(first.get("size").isIntegralNumber());
    }

    @Test
    void textHasMapAndArithmetic() {
        Run r = run("layout", "--arch", "x86-32-pae", "--vmsplit", "1G", "--ram", "512M", "--top-reserve", "8M");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("vmalloc/ioremap space"), r.out());
        assertTrue(r.out().contains("1272"), r.out());
        assertTrue(r.out().contains("1536"), r.out());
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "layout --arch x86-64 --vmsplit 1G",
            "layout --arch x86-64-la57 --top-reserve 8M",
            "layout --arch x86-32 --vmsplit 4G",
            "layout --arch x86-32 --ram 12Q",
            "layout --arch x86-32 --ram -1M",
            "layout --arch x86-32 --ram 0",
            "layout --arch x86-32 --ram 100",
            "layout --arch x86-32-pae --top-reserve 3G",
            "layout --arch x86-32-pae --top-reserve 5000",
            "layout --arch arm64",
            "layout",
            "layout --arch x86-64 --ram 1P"})
    void badInputExitsTwoWithOneLine(String cmd) {
        Run r = run(cmd.split(" "));
        assertEquals(2, r.code(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertEquals("", r.out());
    }

    @Test
    void sizes() {
        assertEquals(512L << 20, SizeConverter.parse("512M"));
        assertEquals(4L << 30, SizeConverter.parse("4G"));
        assertEquals(8L << 20, SizeConverter.parse("8M"));
        assertEquals(64L << 10, SizeConverter.parse("64K"));
        assertEquals(1L << 40, SizeConverter.parse("1T"));
        assertEquals(4096L, SizeConverter.parse("4096"));
        assertEquals(2L << 30, SizeConverter.parse("2GiB"));
        assertEquals(2L << 30, SizeConverter.parse("2gb"));
        for (String bad : new String[] {"", "M", "1.5G", "-1", "0", "12Q", "9999999999999P", "1 G", "0x10"}) {
            assertThrows(CommandLine.TypeConversionException.class, () -> SizeConverter.parse(bad), bad);
        }
    }
}
