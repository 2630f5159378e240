using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using FastPt.Cli.Commands;
using FastPt.Cli.PageSets;
using Xunit;

namespace FastPt.Tests.Cli;

public class ReplayTests
{
    private const ulong DefaultBase = 0x0000_0080_0000_0000;

    /// <summary>A sparse, clustered page set with duplicates, in shuffled order, spread over several GiB.</summary>
    private static List<ulong> RandomPages(int seed)
    {
        var random = new Random(seed);
        var pages = new List<ulong>();
        for (int cluster = 0; cluster < 300; cluster++)
        {
            ulong start = (ulong)random.NextInt64(0, 6L << 18);   // within 6 GiB of pages
            int length = random.Next(1, 700);
            for (int i = 0; i < length; i++) pages.Add(start + (ulong)i);
        }
        pages.Add(pages[0]);
        pages.Add(pages[^1]);
        return pages.OrderBy(_ => random.Next()).ToList();
    }

    /// <summary>VmPTE by the Linux rule, from the absolute addresses: distinct 2 MiB, 1 GiB and 512 GiB regions.</summary>
    private static long ExpectedVmPteKiB(IEnumerable<ulong> pages, ulong baseAddress)
    {
        ulong[] addresses = pages.Select(page => baseAddress + page * 4096).ToArray();
        long regions2M = addresses.Select(a => a >> 21).Distinct().LongCount();
        long regions1G = addresses.Select(a => a >> 30).Distinct().LongCount();
        long regions512G = addresses.Select(a => a >> 39).Distinct().LongCount();
        return (regions2M + regions1G + regions512G) * 4;
    }

    private static string PageFileText(IEnumerable<ulong> pages)
    {
        var text = new StringBuilder("# generated page file\n\n");
        int i = 0;
        foreach (ulong page in pages)
        {
            // Mix decimal, hex, comments, blank lines and stray spaces.
            text.Append((i++ % 3) switch
            {
                0 => page.ToString(CultureInfo.InvariantCulture) + "\n",
                1 => "  0x" + page.ToString("x", CultureInfo.InvariantCulture) + "   # hex\n",
                _ => page.ToString(CultureInfo.InvariantCulture) + "\n\n",
            });
        }
        return text.ToString();
    }

    private static long VmPteFrom(string output)
    {
        Match match = Regex.Match(output, @"^VmPTE:\t(\d+) kB$", RegexOptions.Multiline);
        Assert.True(match.Success, output);
        return long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static void WriteGzip(string path, string text)
    {
        using FileStream file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        gzip.Write(Encoding.UTF8.GetBytes(text));
    }

    [Fact]
    public void Replay_of_a_plain_file_prints_the_independently_computed_VmPTE()
    {
        using var directory = new TemporaryDirectory();
        List<ulong> pages = RandomPages(1);
        string path = directory.File("pages.txt");
        File.WriteAllText(path, PageFileText(pages));

        CliRunner.Result result = CliRunner.Run("replay", "--pages", path, "--memory", "1G");
        Assert.True(result.ExitCode == ExitCodes.Success, result.Error);
        Assert.Equal(ExpectedVmPteKiB(pages, DefaultBase), VmPteFrom(result.Output));
        Assert.Contains(pages.Distinct().Count().ToString("N0", CultureInfo.InvariantCulture), result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("pages.gz", "4")]
    [InlineData("pages.txt", "5")]   // gzip is recognised by its magic bytes, not by the name
    public void Replay_of_a_gzip_file_prints_the_independently_computed_VmPTE(string name, string levels)
    {
        using var directory = new TemporaryDirectory();
        List<ulong> pages = RandomPages(2);
        string path = directory.File(name);
        WriteGzip(path, PageFileText(pages));

        CliRunner.Result result = CliRunner.Run("replay", "--pages", path, "--memory", "1G", "--levels", levels);
        Assert.True(result.ExitCode == ExitCodes.Success, result.Error);
        Assert.Equal(ExpectedVmPteKiB(pages, DefaultBase), VmPteFrom(result.Output));
        if (levels == "5") Assert.Contains("P4D", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Replay_with_an_unaligned_base_counts_regions_of_the_absolute_addresses()
    {
        using var directory = new TemporaryDirectory();
        // Base 4 KiB short of a 512 GiB boundary: page 0 and page 1 fall in different 2 MiB, 1 GiB and 512 GiB regions.
        const ulong baseAddress = 0x0000_00ff_ffff_f000;
        ulong[] pages = [0, 1, 2, 511, 512, 262_143, 262_144, 262_145];
        string path = directory.File("pages.txt");
        File.WriteAllLines(path, pages.Select(p => p.ToString(CultureInfo.InvariantCulture)));

        CliRunner.Result result = CliRunner.Run("replay", "--pages", path, "--base", "0x0000_00ff_ffff_f000", "--memory", "1G");
        Assert.True(result.ExitCode == ExitCodes.Success, result.Error);
        Assert.Equal(ExpectedVmPteKiB(pages, baseAddress), VmPteFrom(result.Output));
        Assert.Equal((4 + 3 + 2) * 4, VmPteFrom(result.Output));
    }

    [Fact]
    public void Replay_of_an_empty_file_maps_nothing()
    {
        using var directory = new TemporaryDirectory();
        string path = directory.File("empty.txt");
        File.WriteAllText(path, "# nothing here\n\n");
        CliRunner.Result result = CliRunner.Run("replay", "--pages", path, "--memory", "1G");
        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Equal(0, VmPteFrom(result.Output));
    }

    [Theory]
    [InlineData("1\n2\nthree\n", ":3: 'three' is not a page index")]
    [InlineData("# header\n\n0x10\n0xzz\n", ":4: '0xzz' is not a page index")]
    [InlineData("1\n-5\n", ":2: '-5' is not a page index")]
    [InlineData("1\n99999999999999999999999\n", ":2:")]
    [InlineData("1\n2\n0x7f8000000\n", ":3: page '0x7f8000000' is outside the user range")]
    public void Bad_lines_are_reported_with_their_line_number(string content, string expected)
    {
        using var directory = new TemporaryDirectory();
        string path = directory.File("bad.txt");
        File.WriteAllText(path, content);
        CliRunner.Result result = CliRunner.Run("replay", "--pages", path, "--memory", "1G");
        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.Contains(path + expected, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_corrupt_gzip_file_is_a_clear_error()
    {
        using var directory = new TemporaryDirectory();
        string path = directory.File("broken.gz");
        // A gzip header followed by a deflate block of the reserved type 11.
        File.WriteAllBytes(path, [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x07, 0xff, 0xff, 0xff]);
        CliRunner.Result result = CliRunner.Run("replay", "--pages", path, "--memory", "1G");
        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.Contains("gzip", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.95)]
    [InlineData(0.0)]
    public void A_truncated_gzip_file_is_an_error_not_a_shorter_page_set(double keep)
    {
        using var directory = new TemporaryDirectory();
        string whole = directory.File("whole.gz");
        WriteGzip(whole, PageFileText(RandomPages(3)));
        byte[] bytes = File.ReadAllBytes(whole);
        string path = directory.File("truncated.gz");
        File.WriteAllBytes(path, bytes[..Math.Max(2, (int)(bytes.Length * keep))]);

        Assert.Equal(ExitCodes.Success, CliRunner.Run("replay", "--pages", whole, "--memory", "1G").ExitCode);
        CliRunner.Result result = CliRunner.Run("replay", "--pages", path, "--memory", "1G");
        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.Contains("truncated", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Page_limit_follows_the_paging_mode()
    {
        using var directory = new TemporaryDirectory();
        string path = directory.File("high.txt");
        // 2^47 bytes above the base: outside 4-level user space, inside 5-level user space.
        File.WriteAllText(path, "0x800000000\n");
        Assert.Equal(ExitCodes.BadInput, CliRunner.Run("replay", "--pages", path, "--memory", "1G").ExitCode);
        CliRunner.Result five = CliRunner.Run("replay", "--pages", path, "--memory", "1G", "--levels", "5");
        Assert.Equal(ExitCodes.Success, five.ExitCode);
        Assert.Equal(3 * 4, VmPteFrom(five.Output));
    }

    [Fact]
    public void Replayer_coalesces_runs_and_maps_the_documented_frames()
    {
        using var machine = new Machine(new MachineOptions { MemorySize = 1UL << 30 });
        using AddressSpace space = machine.CreateAddressSpace();
        PageSet pages = PageSet.FromIndices([5, 3, 4, 4, 100, 101, 1000]);
        Assert.Equal([new PageRun(3, 3), new PageRun(100, 2), new PageRun(1000, 1)], pages.Runs());

        ReplayResult result = PageSetReplayer.Replay(space, pages, DefaultBase);
        Assert.Equal(6, result.Pages);
        Assert.Equal(3, result.MapCalls);
        // Pages 3..101 share the first 2 MiB region; page 1000 is in the second.
        Assert.Equal(new PageTableCounts(2, 1, 1, 0), result.Tables);
        Mapping mapping = space.Lookup(new VirtAddr(DefaultBase + 101 * 4096))!.Value;
        Assert.Equal(PageSize.Size4K, mapping.Size);
        Assert.Equal(101UL * 4096, mapping.Frame.Value);
        Assert.Null(space.Lookup(new VirtAddr(DefaultBase + 6 * 4096)));
    }

    [Fact]
    public void Dump_of_a_replayed_file_lists_its_runs()
    {
        using var directory = new TemporaryDirectory();
        string path = directory.File("pages.txt");
        File.WriteAllText(path, "0\n1\n2\n10\n0x40000\n");
        CliRunner.Result result = CliRunner.Run("dump", "--pages", path, "--memory", "1G");
        Assert.True(result.ExitCode == ExitCodes.Success, result.Error);
        Assert.Matches(@"0x0000008000000000 .* 0x0000008000003000 .* 4K .* 3 .* ReadWrite", result.Output);
        Assert.Matches(@"0x000000800000a000 .* 0x000000800000b000 .* 4K .* 1 ", result.Output);
        Assert.Matches(@"0x0000008040000000 .* 0x0000008040001000 .* 4K .* 1 ", result.Output);
        Assert.Matches(@"total\s+│\s+3\s+│\s+5\s+│\s+20K", result.Output);
        Assert.Contains("VmPTE 20 kB", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_higher_half_base_replays_into_a_guest_space_up_to_2_to_the_64()
    {
        using var directory = new TemporaryDirectory();
        string path = directory.File("kernel.txt");
        // The last two pages below 2^64 from a base 8 KiB below it.
        File.WriteAllText(path, "0\n1\n");
        CliRunner.Result result = CliRunner.Run("replay", "--pages", path, "--memory", "1G", "--base", "0xffffffffffffe000");
        Assert.True(result.ExitCode == ExitCodes.Success, result.Error);
        Assert.Equal(3 * 4, VmPteFrom(result.Output));

        File.WriteAllText(path, "0\n1\n2\n");
        CliRunner.Result past = CliRunner.Run("replay", "--pages", path, "--memory", "1G", "--base", "0xffffffffffffe000");
        Assert.Equal(ExitCodes.BadInput, past.ExitCode);
        Assert.Contains(path + ":3: page '2' is outside the user range", past.Error, StringComparison.Ordinal);
        Assert.Contains("end of the higher half 2^64", past.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("4", "0x800000000000", "not canonical for 48-bit addresses")]
    [InlineData("5", "0x100000000000000", "not canonical for 57-bit addresses")]
    public void A_base_in_the_hole_is_refused(string levels, string baseAddress, string expected)
    {
        using var directory = new TemporaryDirectory();
        string path = directory.File("pages.txt");
        File.WriteAllText(path, "0\n");
        CliRunner.Result result = CliRunner.Run("replay", "--pages", path, "--memory", "1G", "--levels", levels, "--base", baseAddress);
        Assert.NotEqual(ExitCodes.Success, result.ExitCode);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Dump_of_a_guest_kernel_page_file_reads_the_higher_half_and_refuses_the_hole()
    {
        using var directory = new TemporaryDirectory();
        string path = directory.File("kernel.txt");
        File.WriteAllText(path, "0\n1\n0x1ff\n");
        CliRunner.Result result = CliRunner.Run("dump", "--pages", path, "--memory", "1G", "--base", "0xffffffffffe00000");
        Assert.True(result.ExitCode == ExitCodes.Success, result.Error);
        Assert.Contains("guest address space (both canonical halves)", result.Output, StringComparison.Ordinal);
        Assert.Matches(@"0xffffffffffe00000 .* 0xffffffffffe02000 .* 4K .* 2 ", result.Output);
        Assert.Matches(@"0xfffffffffffff000 .* 0x10000000000000000 .* 4K .* 1 ", result.Output);

        CliRunner.Result top = CliRunner.Run("dump", "--pages", path, "--memory", "1G", "--base", "0xffffffffffe00000", "--va", "0xfffffffffffff000+4K");
        Assert.True(top.ExitCode == ExitCodes.Success, top.Error);
        Assert.Matches(@"total\s+│\s+1\s+│\s+1\s+│\s+4K", top.Output);

        CliRunner.Result hole = CliRunner.Run("dump", "--pages", path, "--memory", "1G", "--base", "0xffffffffffe00000", "--va", "0x7ffffffff000+8K");
        Assert.NotEqual(ExitCodes.Success, hole.ExitCode);
        Assert.Contains("is not canonical for 48-bit addresses", hole.Error, StringComparison.Ordinal);
        CliRunner.Result user = CliRunner.Run("dump", "--pages", path, "--memory", "1G", "--va", "0xffff800000000000+4K");
        Assert.NotEqual(ExitCodes.Success, user.ExitCode);
        Assert.Contains("leaves the user range", user.Error, StringComparison.Ordinal);
    }
}
