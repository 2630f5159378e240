using System;
using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.IO;
using FastPt.Cli.Commands;

namespace FastPt.Cli;

/// <summary>The <c>fastpt</c> command. <see cref="Run(string[], TextWriter, TextWriter)"/> runs it in-process with
/// any writers, which is how the tests call it.</summary>
internal static class Program
{
    public static int Main(string[] args) =>
        Run(args, Console.Out, Console.Error, interactive: !Console.IsOutputRedirected);

    /// <summary>Runs the command line <paramref name="args"/>, writing to <paramref name="output"/> and
    /// <paramref name="error"/>, without live progress. Returns the exit code.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error) => Run(args, output, error, interactive: false);

    public static int Run(string[] args, TextWriter output, TextWriter error, bool interactive)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var environment = new CliEnvironment(output, error, interactive);
        Command root = CreateRootCommand(environment);
        ParseResult parse = root.Parse(args);
        if (parse.Action is ParseErrorAction)
        {
            foreach (System.CommandLine.Parsing.ParseError parseError in parse.Errors) error.WriteLine("fastpt: " + parseError.Message);
            error.WriteLine("Run 'fastpt --help' (or 'fastpt COMMAND --help') for usage.");
            return ExitCodes.Usage;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (CliException exception)
        {
            error.WriteLine("fastpt: " + exception.Message);
            return exception.ExitCode;
        }
    }

    /// <summary>The command tree: the root runs the main job; subcommands run, list, replay, dump and trace.</summary>
    public static Command CreateRootCommand(CliEnvironment environment)
    {
        // A plain command rather than RootCommand, whose name is the host executable's ("FastPt.Cli" or "testhost").
        var root = new Command("fastpt",
            "FastPt: simulated Linux x86-64 page tables. With no command, boots a machine and runs every scenario "
            + "(exit code 0 only if every check passes).")
        {
            new HelpOption(),
            new VersionOption(),
        };
        ScenarioCommands.ConfigureMainJob(root, environment);
        root.Add(ScenarioCommands.CreateRun(environment));
        root.Add(ScenarioCommands.CreateList(environment));
        root.Add(ReplayCommand.Create(environment));
        root.Add(DumpCommand.Create(environment));
        root.Add(TraceCommand.Create(environment));
        root.Add(HugeTlbCommand.Create(environment));
        return root;
    }
}
