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

    /// <summary>Checks that <paramref name="baseAddress"/> lies inside <paramref name="space"/>'s user range.</summary>
    public static void RequireUserBase(AddressSpace space, ulong baseAddress)
    {
        if (baseAddress >= space.UserTop.Value)
            throw new CliException($"--base 0x{baseAddress:x} is outside the user range, which ends at {space.UserTop}");
    }

    public static Outcome Run(CliEnvironment environment, IAnsiConsole console, AddressSpace space, string path, ulong baseAddress)
    {
        ulong limit = PageSetReplayer.PageLimit(space, baseAddress);
        string DescribeLimit(ulong page) =>
            $"0x{baseAddress:x} + 0x{page:x} x 4 KiB is at or above the end of user space {space.UserTop} (pages must be below 0x{limit:x})";

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
