using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using System.Text.Json;
using FastPt.Cli.Traces;
using Xunit;

namespace FastPt.Tests.Cli;

/// <summary><c>fastpt replay --lackey</c>: a trace generated here (valgrind's format, with its <c>==</c> lines, every
/// kind of access and accesses that cross 4 KiB and 2 MiB boundaries) is replayed, and every count of the report is
/// checked against what the trace implies, computed independently here.</summary>
public class LackeyReplayTests
{
    private sealed record Access(char Kind, ulong Address, uint Size)
    {
        public ulong FirstPage => Address >> 12;
        public ulong LastPage => (Address + Size - 1) >> 12;
        public IEnumerable<ulong> Pages()
        {
            for (ulong page = FirstPage; page <= LastPage; page++) yield return page;
        }
    }

    /// <summary>Code in one area, a heap, a stack near the top of a 47-bit space, a 2 MiB boundary straddled.</summary>
    private static List<Access> Generate(int seed, int count)
    {
        var random = new Random(seed);
        var accesses = new List<Access>();
        ulong[] areas = [0x0040_0000, 0x0400_0000, 0x0000_5555_5555_0000, 0x0000_7ffc_0000_0000, 0x0000_0001_ffe0_0000];
        for (int i = 0; i < count; i++)
        {
            ulong area = areas[random.Next(areas.Length)];
            ulong address = area + (ulong)random.Next(0, 96 * 4096);
            char kind = "ILSM"[random.Next(4)];
            uint size = kind == 'I' ? (uint)random.Next(1, 16) : (uint)(1 << random.Next(0, 6));
            accesses.Add(new Access(kind, address, size));
        }
        // Crossings: a store over a 4 KiB edge, a modify over a 2 MiB edge, a fetch over a 1 GiB edge.
        accesses.Add(new Access('S', 0x0040_0ffe, 8));
        accesses.Add(new Access('M', 0x0000_0001_ffff_fffc, 8));
        accesses.Add(new Access('I', 0x0000_0000_3fff_fffa, 12));
        accesses.Add(new Access('L', 0x0000_7ffc_0003_0ff0, 32));
        return accesses;
    }

    private static string Line(Access access) => access.Kind == 'I'
        ? string.Create(CultureInfo.InvariantCulture, $"I  {access.Address:x8},{access.Size}")
        : string.Create(CultureInfo.InvariantCulture, $" {access.Kind} {access.Address:x8},{access.Size}");

    private static string TraceText(IEnumerable<Access> accesses)
    {
        var text = new StringBuilder("==4242== Lackey, an example Valgrind tool\n==4242== Command: ./program\n==4242== \n");
        foreach (Access access in accesses) text.Append(Line(access)).Append('\n');
        text.Append("==4242== \n==4242== Counted 1 call to main()\n");
        return text.ToString();
    }

    private static void WriteGzip(string path, string text)
    {
        using FileStream file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        gzip.Write(Encoding.ASCII.GetBytes(text));
    }

    private static JsonElement ReplayJson(params string[] args)
    {
        CliRunner.Result result = CliRunner.Run(["replay", .. args, "--memory", "1G", "--json"]);
        Assert.True(result.ExitCode == 0, result.Error);
        return JsonDocument.Parse(result.Output).RootElement;
    }

    private static long Translations(IEnumerable<Access> accesses) =>
        accesses.Sum(a => (long)a.Pages().Count() * (a.Kind == 'M' ? 2 : 1));

    private static long VmPteKiB(IEnumerable<ulong> pages) =>
        (pages.Select(p => p >> 9).Distinct().LongCount() + pages.Select(p => p >> 18).Distinct().LongCount()
            + pages.Select(p => p >> 27).Distinct().LongCount()) * 4;

    [Fact]
    public void A_generated_trace_replays_with_every_count_the_trace_implies()
    {
        List<Access> accesses = Generate(seed: 7, count: 20_000);
        HashSet<ulong> pages = accesses.SelectMany(a => a.Pages()).ToHashSet();
        using var directory = new TemporaryDirectory();
        string plain = directory.File("program.lackey");
        string gzip = directory.File("program.lackey.gz");
        string text = TraceText(accesses);
        File.WriteAllText(plain, text);
        WriteGzip(gzip, text);

        JsonElement report = ReplayJson("--lackey", plain);
        Assert.Equal(accesses.Count + 5, report.GetProperty("lines").GetInt64());
        Assert.Equal(5, report.GetProperty("skippedLines").GetInt64());
        Assert.Equal(accesses.Count, report.GetProperty("accesses").GetInt64());
        JsonElement kinds = report.GetProperty("accessesByKind");
        Assert.Equal(accesses.Count(a => a.Kind == 'I'), kinds.GetProperty("fetch").GetInt64());
        Assert.Equal(accesses.Count(a => a.Kind == 'L'), kinds.GetProperty("load").GetInt64());
        Assert.Equal(accesses.Count(a => a.Kind == 'S'), kinds.GetProperty("store").GetInt64());
        Assert.Equal(accesses.Count(a => a.Kind == 'M'), kinds.GetProperty("modify").GetInt64());
        Assert.Equal(accesses.Count(a => a.LastPage != a.FirstPage), report.GetProperty("pageCrossings").GetInt64());
        Assert.Equal(Translations(accesses), report.GetProperty("translations").GetInt64());
        Assert.Equal(pages.Count, report.GetProperty("distinctPages").GetInt64());
        Assert.Equal(0, report.GetProperty("unresolvedFaults").GetInt64());
        // One demand fault per page: a read fault maps a writable frame, so a later write does not fault again.
        Assert.Equal(pages.Count, report.GetProperty("faults").GetProperty("pageFaults").GetInt64());
        Assert.Equal(pages.Count, report.GetProperty("tlb").GetProperty("faults").GetInt64());
        Assert.Equal(pages.Count, report.GetProperty("leaves").GetProperty("4K").GetInt64());
        Assert.Equal(0, report.GetProperty("leaves").GetProperty("2M").GetInt64());
        JsonElement tlb = report.GetProperty("tlb");
        // Every translation is a hit or a miss; a faulted one is retried after its fault (a second lookup).
        Assert.Equal(Translations(accesses) + pages.Count, tlb.GetProperty("hits").GetInt64() + tlb.GetProperty("misses").GetInt64());
        Assert.Equal(tlb.GetProperty("misses").GetInt64(),
            tlb.GetProperty("pagingStructureCacheHits").GetInt64() + tlb.GetProperty("walks").GetInt64());
        JsonElement tables = report.GetProperty("pageTables");
        Assert.Equal(pages.Select(p => p >> 9).Distinct().Count(), tables.GetProperty("pte").GetInt64());
        Assert.Equal(pages.Select(p => p >> 18).Distinct().Count(), tables.GetProperty("pmd").GetInt64());
        Assert.Equal(pages.Select(p => p >> 27).Distinct().Count(), tables.GetProperty("pud").GetInt64());
        Assert.Equal(VmPteKiB(pages), report.GetProperty("vmPteKiB").GetInt64());

        // The gzip file replays identically.
        JsonElement fromGzip = ReplayJson("--lackey", gzip);
        foreach (string name in new[] { "accesses", "translations", "distinctPages", "vmPteKiB" })
            Assert.Equal(report.GetProperty(name).GetInt64(), fromGzip.GetProperty(name).GetInt64());
        Assert.Equal(report.GetProperty("tlb").GetProperty("hits").GetInt64(), fromGzip.GetProperty("tlb").GetProperty("hits").GetInt64());
    }

    [Fact]
    public void With_transparent_huge_pages_each_2_MiB_block_faults_once()
    {
        List<Access> accesses = Generate(seed: 11, count: 5_000);
        HashSet<ulong> blocks = accesses.SelectMany(a => a.Pages()).Select(p => p >> 9).ToHashSet();
        using var directory = new TemporaryDirectory();
        string path = directory.File("thp.lackey");
        File.WriteAllText(path, TraceText(accesses));
        JsonElement report = ReplayJson("--lackey", path, "--thp");
        Assert.True(report.GetProperty("transparentHugePages").GetBoolean());
        Assert.Equal(blocks.Count, report.GetProperty("faults").GetProperty("thpFaultAlloc").GetInt64());
        Assert.Equal(blocks.Count, report.GetProperty("faults").GetProperty("pageFaults").GetInt64());
        Assert.Equal(blocks.Count, report.GetProperty("leaves").GetProperty("2M").GetInt64());
        Assert.Equal(0, report.GetProperty("leaves").GetProperty("4K").GetInt64());
        Assert.Equal(0, report.GetProperty("pageTables").GetProperty("pte").GetInt64());
    }

    [Fact]
    public void Each_access_translates_with_the_rights_of_its_kind_on_every_page_it_touches()
    {
        var accesses = new List<Access>
        {
            new('I', 0x10_0000, 4),        // fetch only
            new('L', 0x20_0000, 8),        // read only
            new('S', 0x30_0000, 8),        // written
            new('M', 0x40_0000, 4),        // read, then written
            new('L', 0x50_0ffc, 8),        // a load over a page edge: both pages read, neither written
            new('S', 0x60_0ffc, 8),        // a store over a page edge: both pages written
            new('M', 0x70_1ffe, 4),        // a modify over a page edge: both pages written
        };
        using var directory = new TemporaryDirectory();
        string path = directory.File("kinds.lackey");
        File.WriteAllText(path, TraceText(accesses));
        using Machine machine = TestMachines.Create(TestMachines.GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        LackeyReplayResult result;
        // With the zero page, a read or fetch fault maps the shared zero page read-only and only a write gets a frame
        // of its own: the dirty bit then tells exactly which pages were written (a plain anonymous fault maps its
        // frame dirty whatever the access, as do_anonymous_page does).
        using (LackeyReader reader = LackeyReader.Open(path, skipBad: false)) result = LackeyReplayer.Replay(machine, space, reader, AnonymousOptions.ZeroPage);
        Assert.Equal(Translations(accesses), result.Translations);
        Assert.Equal(3, result.PageCrossings);
        var written = new HashSet<ulong> { 0x30_0000 >> 12, 0x40_0000 >> 12, 0x60_0000 >> 12, 0x60_1000 >> 12, 0x70_1000 >> 12, 0x70_2000 >> 12 };
        foreach (ulong page in accesses.SelectMany(a => a.Pages()))
        {
            Mapping mapping = Assert.NotNull(space.Lookup(new VirtAddr(page << 12)));
            Assert.True(mapping.Accessed);
            Assert.True(written.Contains(page) == mapping.Dirty, $"page 0x{page << 12:x}: dirty {mapping.Dirty}");
        }
        Assert.Equal(10, result.DistinctPages);
        // A modify reads first: its pages got the zero page, then a copy at the write (both pages of a crossing one).
        Assert.Equal(3, result.Memory.ZeroPageCopies);
    }

    [Fact]
    public void A_malformed_line_is_an_error_naming_its_line_and_skip_bad_counts_it()
    {
        List<Access> accesses = Generate(seed: 3, count: 50);
        using var directory = new TemporaryDirectory();
        string path = directory.File("bad.lackey");
        var lines = TraceText(accesses).Split('\n').ToList();
        lines.Insert(10, " X 0401000,4");         // line 11: unknown kind
        lines.Insert(20, " L 0401000");           // line 21: no size
        File.WriteAllText(path, string.Join('\n', lines));

        CliRunner.Result failed = CliRunner.Run("replay", "--lackey", path, "--memory", "1G");
        Assert.Equal(3, failed.ExitCode);
        Assert.Contains("bad.lackey:11: not a lackey access line", failed.Error, StringComparison.Ordinal);
        Assert.Contains("--skip-bad", failed.Error, StringComparison.Ordinal);

        JsonElement report = ReplayJson("--lackey", path, "--skip-bad");
        Assert.Equal(2, report.GetProperty("badLines").GetInt64());
        Assert.Equal(accesses.Count, report.GetProperty("accesses").GetInt64());
        Assert.Contains("bad.lackey:11:", report.GetProperty("firstBadLine").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(" L 12345678,0", "the size is 0")]
    [InlineData(" L ,4", "no hexadecimal address")]
    [InlineData(" S 12345678;4", "no ',' between address and size")]
    [InlineData(" M 12345678,4 x", "unexpected text after the size")]
    [InlineData("I  12345678901234567,4", "more than 16 hex digits")]
    [InlineData(" L ffffffffffffffff,2", "past the end")]
    [InlineData("L12345678,4", "no space after the access kind")]
    public void The_parser_says_what_is_wrong(string line, string reason)
    {
        Assert.False(LackeyReader.TryParse(Encoding.ASCII.GetBytes(line), out _, out string? error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void The_parser_reads_the_four_kinds_and_skips_valgrind_lines()
    {
        Assert.True(LackeyReader.TryParse("I  04010173,3"u8, out LackeyAccess fetch, out _));
        Assert.Equal(new LackeyAccess(LackeyKind.Instruction, 0x0401_0173, 3), fetch);
        Assert.True(LackeyReader.TryParse(" M 1ffefffd08,8\r"u8, out LackeyAccess modify, out _));
        Assert.Equal(new LackeyAccess(LackeyKind.Modify, 0x1f_feff_fd08, 8), modify);
        Assert.False(LackeyReader.TryParse("==12== Lackey"u8, out _, out string? error));
        Assert.Null(error);
        Assert.False(LackeyReader.TryParse("   "u8, out _, out error));
        Assert.Null(error);
    }

    [Fact]
    public void A_truncated_gzip_trace_is_an_error_and_replay_needs_exactly_one_input()
    {
        using var directory = new TemporaryDirectory();
        string path = directory.File("cut.lackey.gz");
        WriteGzip(path, TraceText(Generate(seed: 5, count: 20_000)));
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        CliRunner.Result cut = CliRunner.Run("replay", "--lackey", path, "--memory", "1G");
        Assert.Equal(3, cut.ExitCode);
        Assert.Contains("truncated", cut.Error, StringComparison.Ordinal);

        Assert.Equal(2, CliRunner.Run("replay").ExitCode);
        Assert.Equal(2, CliRunner.Run("replay", "--lackey", path, "--pages", path).ExitCode);
        Assert.Equal(2, CliRunner.Run("replay", "--pages", path, "--thp").ExitCode);
        CliRunner.Result missing = CliRunner.Run("replay", "--lackey", directory.File("none.lackey"));
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("not found", missing.Error, StringComparison.Ordinal);
    }
}
