using System;
using System.Linq;
using System.Text.Json;
using FastPt.Cli.Commands;
using Xunit;

namespace FastPt.Tests.Cli;

/// <summary><c>fastpt kpageflags</c> and <c>fastpt pagemap</c>: the kernel's HVO selftest passes through them in both
/// designs and both folio sizes, a folio's frames read as the kernel reports them, pagemap finds every folio where it
/// was mapped, and bad input is refused with exit 2 and the input quoted.</summary>
public sealed class PageQueryCommandTests
{
    [Theory]
    [InlineData("6x")]
    [InlineData("shared")]
    public void Selftest_passes_on_optimized_2M_folios_in_both_designs(string design)
    {
        CliRunner.Result result = CliRunner.Run("kpageflags", "--memory", "1G", "--pages-2m", "4", "--design", design, "--selftest", "--json");
        Assert.True(result.ExitCode == ExitCodes.Success, result.Output + result.Error);
        using JsonDocument document = JsonDocument.Parse(result.Output);
        JsonElement root = document.RootElement;
        Assert.Equal(design, root.GetProperty("design").GetString());
        Assert.True(root.GetProperty("optimizeVmemmap").GetBoolean());
        JsonElement pool2M = root.GetProperty("pools").EnumerateArray().Single(p => p.GetProperty("size").GetString() == "2M");
        Assert.Equal(4, pool2M.GetProperty("foliosOptimized").GetInt64());
        Assert.Equal(4 * 7, pool2M.GetProperty("memmapPagesFreed").GetInt64());
        JsonElement selftest = root.GetProperty("selftest");
        Assert.True(selftest.GetProperty("passed").GetBoolean());
        JsonElement[] folios = selftest.GetProperty("folios").EnumerateArray().ToArray();
        Assert.Equal(4, folios.Length);
        Assert.All(folios, f =>
        {
            Assert.Equal(511, f.GetProperty("tails").GetInt64());
            Assert.Equal(0, f.GetProperty("badTails").GetInt64());
            Assert.Equal(f.GetProperty("pfn").GetUInt64(), f.GetProperty("pagemapPfn").GetUInt64());
            Assert.Equal((ulong)(KPageFlags.CompoundHead | KPageFlags.Huge), f.GetProperty("headFlags").GetUInt64());
        });
    }

    [Theory]
    [InlineData("6x")]
    [InlineData("shared")]
    public void Selftest_passes_on_a_1G_folio_and_says_so_in_text(string design)
    {
        CliRunner.Result result = CliRunner.RunOn(80, false, "kpageflags", "--selftest", "--pages-1g", "1", "--memory", "4G", "--design", design);
        Assert.True(result.ExitCode == ExitCodes.Success, result.Output + result.Error);
        Assert.Contains("1G folios: 1 folio, head COMPOUND_HEAD|HUGE, 262,143 tails each", result.Output, StringComparison.Ordinal);
        Assert.Contains("PASS", result.Output, StringComparison.Ordinal);
        Assert.All(result.Output.Split('\n'), line => Assert.True(line.TrimEnd('\r').Length <= 80, line));
    }

    /// <summary>The selftest's check itself: a fake head that reads as a head (what 6.x's kpageflags had to learn
    /// to hide), a tail without HUGE, and a head without HEAD each fail it.</summary>
    [Fact]
    public void The_selftest_check_fails_a_fake_head_a_plain_tail_and_a_bad_head()
    {
        const ulong head = (ulong)(KPageFlags.CompoundHead | KPageFlags.Huge), tail = (ulong)(KPageFlags.CompoundTail | KPageFlags.Huge);
        ulong[] flags = Enumerable.Repeat(tail, 512).ToArray();
        flags[0] = head;
        Assert.Equal((true, 0UL, -1), KPageFlagsCommand.CheckFolioFlags(flags));
        flags[64] = head; // a fake head: the first descriptor of a tail vmemmap page mapped onto the head's page
        Assert.Equal((true, 1UL, 64), KPageFlagsCommand.CheckFolioFlags(flags));
        flags[64] = head | tail;
        Assert.Equal((true, 1UL, 64), KPageFlagsCommand.CheckFolioFlags(flags));
        flags[64] = tail;
        flags[3] = (ulong)KPageFlags.CompoundTail;
        Assert.Equal((true, 1UL, 3), KPageFlagsCommand.CheckFolioFlags(flags));
        flags[3] = tail;
        flags[0] = (ulong)KPageFlags.Huge;
        Assert.False(KPageFlagsCommand.CheckFolioFlags(flags).HeadOk);
    }

    /// <summary>What a user does by hand: pagemap gives the frame of a mapped folio, and kpageflags on that frame
    /// range (the same boot gives the same frames) shows one head and 511 tails, all HUGE.</summary>
    [Fact]
    public void Pagemap_finds_the_folios_and_kpageflags_reads_their_frames()
    {
        CliRunner.Result map = CliRunner.Run("pagemap", "--memory", "1G", "--pages-2m", "2", "--design", "shared", "--json");
        Assert.True(map.ExitCode == ExitCodes.Success, map.Output + map.Error);
        using JsonDocument mapped = JsonDocument.Parse(map.Output);
        JsonElement[] folios = mapped.RootElement.GetProperty("folios").EnumerateArray().ToArray();
        Assert.Equal(2, folios.Length);
        Assert.Equal(0x80_0000_0000UL, folios[0].GetProperty("va").GetUInt64());
        Assert.Equal(0x80_0020_0000UL, folios[1].GetProperty("va").GetUInt64());
        JsonElement range = mapped.RootElement.GetProperty("ranges")[0];
        Assert.Equal(1024, range.GetProperty("pages").GetInt64());
        Assert.Equal(1024, range.GetProperty("present").GetInt64());
        JsonElement[] runs = range.GetProperty("runs").EnumerateArray().ToArray();
        foreach (JsonElement folio in folios)
        {
            // Every page of the folio maps the frame at its offset: one run per folio unless two are adjacent.
            ulong va = folio.GetProperty("va").GetUInt64(), pfn = folio.GetProperty("pfn").GetUInt64();
            JsonElement run = runs.Single(r => r.GetProperty("start").GetUInt64() <= va && va < r.GetProperty("end").GetUInt64());
            Assert.Equal(pfn, run.GetProperty("pfn").GetUInt64() + ((va - run.GetProperty("start").GetUInt64()) >> 12));
        }

        ulong first = folios[0].GetProperty("pfn").GetUInt64();
        CliRunner.Result flags = CliRunner.Run("kpageflags", "--memory", "1G", "--pages-2m", "2", "--design", "shared", "--json",
            FormattableString.Invariant($"0x{first:x}+512"));
        Assert.True(flags.ExitCode == ExitCodes.Success, flags.Output + flags.Error);
        using JsonDocument read = JsonDocument.Parse(flags.Output);
        JsonElement[] flagRuns = read.RootElement.GetProperty("ranges")[0].GetProperty("runs").EnumerateArray().ToArray();
        Assert.Equal(2, flagRuns.Length);
        Assert.Equal(1, flagRuns[0].GetProperty("frames").GetInt64());
        Assert.Equal(new[] { "COMPOUND_HEAD", "HUGE" }, flagRuns[0].GetProperty("names").EnumerateArray().Select(n => n.GetString()!));
        Assert.Equal(511, flagRuns[1].GetProperty("frames").GetInt64());
        Assert.Equal(new[] { "COMPOUND_TAIL", "HUGE" }, flagRuns[1].GetProperty("names").EnumerateArray().Select(n => n.GetString()!));
    }

    /// <summary>Without folios and ranges kpageflags reads all RAM: every frame is counted once in the summary, and
    /// options may come before the command.</summary>
    [Fact]
    public void Kpageflags_of_all_RAM_counts_every_frame_and_options_go_anywhere()
    {
        CliRunner.Result result = CliRunner.Run("--memory", "64M", "kpageflags", "--json");
        Assert.True(result.ExitCode == ExitCodes.Success, result.Output + result.Error);
        using JsonDocument document = JsonDocument.Parse(result.Output);
        long frames = document.RootElement.GetProperty("summary").EnumerateArray().Sum(s => s.GetProperty("frames").GetInt64());
        Assert.Equal(64L << 8, frames);
        Assert.Contains(document.RootElement.GetProperty("summary").EnumerateArray(),
            s => s.GetProperty("names").EnumerateArray().Any(n => n.GetString() == "RESERVED"));
    }

    [Fact]
    public void Pagemap_of_an_unmapped_range_is_not_present_and_fits_80_columns()
    {
        CliRunner.Result result = CliRunner.RunOn(80, false, "pagemap", "--memory", "1G", "--pages-2m", "1", "0x8000000000+4M");
        Assert.True(result.ExitCode == ExitCodes.Success, result.Output + result.Error);
        Assert.Contains("not present", result.Output, StringComparison.Ordinal);
        Assert.Contains("(1,024 pages, 512 present)", result.Output, StringComparison.Ordinal);
        Assert.All(result.Output.Split('\n'), line => Assert.True(line.TrimEnd('\r').Length <= 80, line));
    }

    [Theory]
    [InlineData("kpageflags", "zz", "'zz' is not a frame number")]
    [InlineData("kpageflags", "0x10-0x5", "must lie above the start")]
    [InlineData("kpageflags", "0x10+0", "is empty")]
    [InlineData("kpageflags", "0x100000-0x100010", "run past the end of RAM")]
    [InlineData("kpageflags", "--selftest", "--selftest checks HugeTLB folios")]
    [InlineData("kpageflags", "--pages-2m=-1", "--pages-2m: '-1' must not be negative")]
    [InlineData("kpageflags", "--design=7x", "7x")]
    [InlineData("pagemap", "", "nothing is mapped")]
    [InlineData("pagemap", "0xffff888000000000+4K", "leaves the user range")]
    [InlineData("pagemap", "--base=0x8000001000 --pages-2m=1", "is not aligned to 2M")]
    [InlineData("pagemap", "0x1000-0x0fff", "must lie above the start")]
    public void Bad_input_is_refused_with_exit_2_and_quoted(string command, string words, string expected)
    {
        string[] args = new[] { command, "--memory", "1G" }.Concat(words.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();
        CliRunner.Result result = CliRunner.Run(args);
        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_pool_the_machine_cannot_hold_is_a_clear_error()
    {
        CliRunner.Result result = CliRunner.Run("kpageflags", "--memory", "1G", "--pages-1g", "2", "--selftest");
        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.Contains("--pages-1g 2: the pool reached", result.Error, StringComparison.Ordinal);
    }
}
