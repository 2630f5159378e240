using System;
using System.CommandLine;
using System.Globalization;
using System.IO;
using System.Linq;
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
            Description = "The .nettrace file to write. Default fastpt-<date>-<time>.nettrace in the current directory. "
                + "Nothing is written unless the recorded command runs (exit code 0 or 1).",
            HelpName = "FILE",
        };
        output.Validators.Add(result =>
        {
            if (CommonOptions.OutputFileError(result.Tokens.Count > 0 ? result.Tokens[0].Value : null, "--out") is { } error) result.AddError(error);
        });
        Option<double> meterInterval = CommonOptions.Seconds("--meter-interval",
            "Seconds between two publications of the FastPt Meter's values into the trace (0.1 to 3600; "
            + "short, because scenarios take about a second); 0 leaves the Meter out.",
            DefaultMeterInterval, minimum: 0.1, maximum: 3600);
        var commandLine = new Argument<string[]>("command")
        {
            Description = "After '--': the fastpt command line to run and record, e.g. '-- run paging --memory 4G'.",
            Arity = ArgumentArity.OneOrMore,
        };
        var command = new Command("record",
            "Run a fastpt command line (after '--') in this process under an EventPipe session with every FastPt event "
            + "(verbose, all keywords) and the FastPt Meter, write the .nettrace and summarise it. The command line is "
            + "checked before anything is recorded.")
        {
            output, meterInterval, commandLine,
        };
        command.SetAction(parse =>
        {
            string[] inner = parse.GetValue(commandLine) ?? [];
            if (string.Equals(inner[0], "trace", StringComparison.OrdinalIgnoreCase)) throw new CliException("trace record: cannot record a trace command");
            // The recorded command line is parsed and validated before the session starts: a usage error writes nothing.
            ParsedCommandLine check = ParsedCommandLine.Parse(Program.CreateRootCommand(environment), inner);
            if (check.Errors.Count > 0)
            {
                Program.WriteUsageErrors(environment.Error, check.Errors.Select(error => "trace record: in the command to record: " + error));
                return ExitCodes.Usage;
            }
            string path = Path.GetFullPath(parse.GetValue(output) ?? DefaultFileName());
            return Record(environment, path, parse.GetValue(meterInterval), inner, check.WritesJson);
        });
        return command;
    }

    /// <summary>Records into a temporary file (<see cref="OutputFile"/>) that takes the place of
    /// <paramref name="path"/> only when the recorded command ran (exit code 0 or 1), so a failure leaves nothing
    /// behind and an existing file untouched. The summary is read from the recording itself, so that a target such
    /// as /dev/null still gets one. After a command that writes JSON (<paramref name="innerJson"/>) the report goes to
    /// standard error: standard output holds that document alone.</summary>
    private static int Record(CliEnvironment environment, string path, double meterInterval, string[] inner, bool innerJson)
    {
        if (innerJson) environment = environment with { Interactive = false };
        using var output = new OutputFile(path, "trace record: --out", ExitCodes.BadInput);
        TraceRecorder recorder;
        try
        {
            recorder = TraceRecorder.Start(output.TemporaryPath, new TraceRecorderOptions { MeterRefreshSeconds = meterInterval });
        }
        catch (Exception exception) when (exception is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            throw new CliException($"trace record: cannot write {TextFormat.Quote(path, 200)}: {exception.Message}", ExitCodes.BadInput);
        }
        int exitCode;
        long bytes;
        TraceSummary summary;
        try
        {
            using (recorder)
            {
                exitCode = Program.Run(inner, environment);
                bytes = environment.WithStatus("writing the trace", recorder.Stop);
            }
            if (exitCode is not ExitCodes.Success and not ExitCodes.ChecksFailed)
            {
                environment.Error.WriteLine(FormattableString.Invariant($"fastpt: trace record: the recorded command failed (exit code {exitCode}): no trace written"));
                return exitCode;
            }
            summary = Summarise(environment, output.TemporaryPath, path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or TimeoutException)
        {
            throw new CliException($"trace record: cannot write {TextFormat.Quote(path, 200)}: {exception.Message}", ExitCodes.BadInput);
        }
        output.Commit();
        IAnsiConsole console = innerJson ? ConsoleFactory.Create(environment.Error, interactive: false, environment.Width) : environment.CreateConsole();
        console.WriteLine();
        TextFormat.Heading(console, "[bold]trace[/]");
        if (output.IntoSpecialFile)
        {
            // /dev/null keeps nothing to summarise later: the summary below is all there is.
            console.MarkupLine(CultureInfo.InvariantCulture, "wrote {0:N0} bytes into [bold]{1}[/]", bytes, Markup.Escape(TextFormat.PathForShell(path)));
        }
        else
        {
            console.MarkupLine(CultureInfo.InvariantCulture, "wrote [bold]{0}[/] ({1:N0} bytes); summarise it with:", Markup.Escape(TextFormat.PathForShell(path)), bytes);
            // On a line of its own, so that it can be copied whole.
            console.WriteLine("  fastpt trace summarize " + TextFormat.PathForShell(path));
        }
        TraceSummaryRenderer.Render(console, summary, full: false);
        return exitCode;
    }

    private static Command CreateSummarize(CliEnvironment environment)
    {
        var file = new Argument<string>("file") { Description = "A .nettrace file (from 'fastpt trace record' or dotnet-trace)." };
        file.Validators.Add(result =>
        {
            string? path = result.Tokens.Count > 0 ? result.Tokens[0].Value : null;
            // A word starting with '-' is an unknown option, which ParsedCommandLine reports as such.
            if (path is null || path.Length < 2 || path[0] != '-') CommonOptions.AddInputFileError(result, path, "trace file");
        });
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
            TraceSummary summary = Summarise(environment, path, path);
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

    /// <summary>Reads the trace at <paramref name="file"/>, naming it <paramref name="path"/> in the summary and in
    /// errors.</summary>
    private static TraceSummary Summarise(CliEnvironment environment, string file, string path)
    {
        try
        {
            return environment.WithStatus("reading " + Path.GetFileName(path), () =>
            {
                // Shared access: the file may still be open for writing by the session that records it.
                using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                return TraceSummary.Read(stream, path);
            });
        }
        catch (TraceFormatException exception)
        {
            throw new CliException("trace: " + exception.Message, ExitCodes.BadInput);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // Checked before, but a file can go or lose its rights in between.
            throw new CliException($"trace: cannot read {TextFormat.Quote(path, 200)}: {exception.Message}", ExitCodes.BadInput);
        }
    }

    private static string DefaultFileName() =>
        "fastpt-" + DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + ".nettrace";
}
