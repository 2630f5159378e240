using System;
using System.CommandLine;
using System.Globalization;
using System.IO;
using FastPt.Cli.Rendering;
using FastPt.Tracing;
using Spectre.Console;

namespace FastPt.Cli.Commands;

/// <summary><c>fastpt trace record</c> runs a fastpt command line in-process under an EventPipe session and writes
/// the .nettrace; <c>fastpt trace summarize</c> reads one back and summarises it.</summary>
internal static class TraceCommand
{
    /// <summary>Seconds between Meter publications during <c>trace record</c>.</summary>
    public const double DefaultMeterInterval = 0.25;

    public static Command Create(CliEnvironment environment)
    {
        var command = new Command("trace", "Record FastPt's EventPipe events to a .nettrace file, or summarise one.")
        {
            CreateRecord(environment),
            CreateSummarize(environment),
        };
        return command;
    }

    private static Command CreateRecord(CliEnvironment environment)
    {
        var output = new Option<string?>("--out", "-o")
        {
            Description = "The .nettrace file to write. Default fastpt-<date>-<time>.nettrace in the current directory.",
            HelpName = "FILE",
        };
        var meterInterval = new Option<double>("--meter-interval")
        {
            Description = "Seconds between two publications of the FastPt Meter's values into the trace (0.1 to 3600; "
                + "short, because scenarios take about a second); 0 leaves the Meter out.",
            HelpName = "SECONDS",
            DefaultValueFactory = _ => DefaultMeterInterval,
        };
        meterInterval.Validators.Add(result =>
        {
            double seconds = result.GetValueOrDefault<double>();
            if (seconds != 0 && !(seconds is >= 0.1 and <= 3600)) result.AddError("--meter-interval: must be 0, or 0.1 to 3600 seconds");
        });
        var commandLine = new Argument<string[]>("command")
        {
            Description = "After '--': the fastpt command line to run and record, e.g. '-- run paging --memory 4G'.",
            Arity = ArgumentArity.OneOrMore,
        };
        var command = new Command("record",
            "Run a fastpt command line (after '--') in this process under an EventPipe session with every FastPt event "
            + "(verbose, all keywords) and the FastPt Meter, write the .nettrace and summarise it.")
        {
            output, meterInterval, commandLine,
        };
        command.SetAction(parse =>
        {
            string[] inner = parse.GetValue(commandLine) ?? [];
            if (inner.Length == 0) throw new CliException("trace record: give the command line to record after '--', e.g. 'fastpt trace record -- run paging'");
            if (string.Equals(inner[0], "trace", StringComparison.OrdinalIgnoreCase)) throw new CliException("trace record: cannot record a trace command");
            string path = Path.GetFullPath(parse.GetValue(output) ?? DefaultFileName());
            return Record(environment, path, parse.GetValue(meterInterval), inner);
        });
        return command;
    }

    private static int Record(CliEnvironment environment, string path, double meterInterval, string[] inner)
    {
        TraceRecorder recorder;
        try
        {
            recorder = TraceRecorder.Start(path, new TraceRecorderOptions { MeterRefreshSeconds = meterInterval });
        }
        catch (Exception exception) when (exception is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            throw new CliException($"trace record: {exception.Message}", ExitCodes.BadInput);
        }
        int exitCode;
        long bytes;
        using (recorder)
        {
            exitCode = Program.Run(inner, environment.Output, environment.Error, environment.Interactive);
            bytes = recorder.Stop();
        }
        IAnsiConsole console = environment.CreateConsole();
        console.WriteLine();
        console.Write(new Rule("[bold]trace[/]") { Justification = Justify.Left });
        console.MarkupLine(CultureInfo.InvariantCulture, "wrote [bold]{0}[/] ({1:N0} bytes); summarise it with 'fastpt trace summarize {2}'",
            Markup.Escape(path), bytes, Markup.Escape(Path.GetFileName(path)));
        TraceSummaryRenderer.Render(console, Summarise(path), full: false);
        return exitCode;
    }

    private static Command CreateSummarize(CliEnvironment environment)
    {
        var file = new Argument<string>("file") { Description = "A .nettrace file (from 'fastpt trace record' or dotnet-trace)." };
        Option<bool> json = CommonOptions.Json();
        var all = new Option<bool>("--all")
        {
            Description = "List every event kind of every provider (by default other providers, such as the runtime's rundown, take one line each).",
        };
        var command = new Command("summarize",
            "Summarise a .nettrace: events per kind, page tables and bytes freed, TLB flushes per operation, address "
            + "spaces, faults, Start/Stop latency histograms and FastPt Meter values.")
        {
            file, json, all,
        };
        command.Aliases.Add("summarise");
        command.SetAction(parse =>
        {
            string path = parse.GetValue(file)!;
            if (!File.Exists(path)) throw new CliException($"trace summarize: no such file: {path}");
            TraceSummary summary = Summarise(path);
            if (parse.GetValue(json))
            {
                environment.Output.WriteLine(summary.ToJson());
            }
            else
            {
                TraceSummaryRenderer.Render(environment.CreateConsole(), summary, full: true, allKinds: parse.GetValue(all));
            }
            return ExitCodes.Success;
        });
        return command;
    }

    private static TraceSummary Summarise(string path)
    {
        try
        {
            return TraceSummary.Read(path);
        }
        catch (TraceFormatException exception)
        {
            throw new CliException("trace: " + exception.Message, ExitCodes.BadInput);
        }
    }

    private static string DefaultFileName() =>
        "fastpt-" + DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + ".nettrace";
}
