using System;
using System.IO;
using FastPt.Cli.PageSets;
using Spectre.Console;

namespace FastPt.Cli.Commands;

/// <summary>Reads a page file and replays it into an address space, with live progress on a terminal; shared by
/// <c>replay</c> and <c>dump --pages</c>.</summary>
internal static class PageFileReplay
{
    /// <summary>What was read and mapped.</summary>
    public sealed record Outcome(PageSet Pages, ReplayResult Replay, TimeSpan ReadTime);

    /// <summary>The address space a page file at <paramref name="baseAddress"/> replays into: a process for a base
    /// in the lower half, a guest covering both canonical halves for one in the higher half (a guest kernel's
    /// addresses). A non-canonical base is refused in the CLI's words.</summary>
    public static AddressSpace CreateSpace(Machine machine, ulong baseAddress)
    {
        int bits = machine.PagingMode == PagingMode.FiveLevel ? 57 : 48;
        ulong lowTop = 1UL << (bits - 1), highBottom = 0UL - lowTop;
        if (baseAddress >= lowTop && baseAddress < highBottom)
            throw new CliException($"--base 0x{baseAddress:x} is not canonical for {bits}-bit addresses: it must lie below 0x{lowTop:x} (a process) or at or above 0x{highBottom:x} (a guest's higher half)");
        return machine.CreateAddressSpace(baseAddress >= highBottom ? AddressSpaceLayout.FullCanonical : AddressSpaceLayout.User);
    }

    /// <summary>Where the half that holds <paramref name="baseAddress"/> ends, for messages.</summary>
    public static string HalfEnd(AddressSpace space, ulong baseAddress) =>
        baseAddress >= space.HigherHalfStart.Value ? "2^64" : space.UserTop.ToString();

    /// <summary>What the space is, for titles.</summary>
    public static string Describe(AddressSpace space) =>
        space.Layout == AddressSpaceLayout.FullCanonical ? "guest address space (both canonical halves)" : "user address space";

    public static Outcome Run(CliEnvironment environment, IAnsiConsole console, AddressSpace space, string path, ulong baseAddress)
    {
        ulong limit = PageSetReplayer.PageLimit(space, baseAddress);
        string DescribeLimit(ulong page) =>
            $"0x{baseAddress:x} + 0x{page:x} x 4 KiB is at or above the end of the {(baseAddress >= space.HigherHalfStart.Value ? "higher half" : "user space")} {HalfEnd(space, baseAddress)} (pages must be below 0x{limit:x})";

        if (!environment.Interactive) return Replay(space, path, baseAddress, limit, DescribeLimit, null, null);

        Outcome? outcome = null;
        console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                ProgressTask reading = context.AddTask("reading " + Markup.Escape(Path.GetFileName(path)), maxValue: 1);
                ProgressTask mapping = context.AddTask("mapping", autoStart: false, maxValue: 1);
                outcome = Replay(space, path, baseAddress, limit, DescribeLimit,
                    (done, total) => { reading.MaxValue = Math.Max(total, 1); reading.Value = done; },
                    (done, total) =>
                    {
                        if (!mapping.IsStarted) mapping.StartTask();
                        mapping.MaxValue = Math.Max(total, 1);
                        mapping.Value = done;
                    });
                reading.Value = reading.MaxValue;
                mapping.Value = mapping.MaxValue;
            });
        return outcome!;
    }

    private static Outcome Replay(AddressSpace space, string path, ulong baseAddress, ulong limit, Func<ulong, string> describeLimit,
        Action<long, long>? readProgress, Action<long, long>? mapProgress)
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        PageSet pages;
        try
        {
            pages = PageFileReader.Read(path, limit, describeLimit, readProgress);
        }
        catch (PageFileException exception)
        {
            throw new CliException(exception.Message, ExitCodes.BadInput);
        }
        TimeSpan readTime = System.Diagnostics.Stopwatch.GetElapsedTime(start);
        try
        {
            ReplayResult result = PageSetReplayer.Replay(space, pages, baseAddress, mapProgress);
            return new Outcome(pages, result, readTime);
        }
        catch (FastPtException exception)
        {
            throw new CliException($"replaying {Rendering.TextFormat.Quote(path, 200)} failed: {exception.Message}", ExitCodes.BadInput);
        }
    }
}
