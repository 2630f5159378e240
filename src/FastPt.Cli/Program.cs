using System;
using System.Collections.Generic;
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
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error, CliTerminal.Detect());

    /// <summary>Runs the command line <paramref name="args"/>, writing to <paramref name="output"/> and
    /// <paramref name="error"/> as redirected output <see cref="CliTerminal.RedirectedWidth"/> columns wide,
    /// without live progress. Returns the exit code.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error) => Run(args, output, error, CliTerminal.Redirected);

    /// <summary>Runs <paramref name="args"/> as output to a terminal (<paramref name="interactive"/>) or redirected
    /// output, <see cref="CliTerminal.RedirectedWidth"/> columns wide either way.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error, bool interactive) =>
        Run(args, output, error, new CliTerminal(interactive, CliTerminal.RedirectedWidth));

    /// <summary>Runs the command line <paramref name="args"/> for <paramref name="terminal"/>.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error, CliTerminal terminal)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        return Run(args, new CliEnvironment(output, error, terminal.Interactive, terminal.Width));
    }

    /// <summary>Runs <paramref name="args"/> in <paramref name="environment"/> (also the way <c>trace record</c>
    /// runs the command it records).</summary>
    public static int Run(IReadOnlyList<string> args, CliEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(environment);
        ParsedCommandLine commandLine = ParsedCommandLine.Parse(CreateRootCommand(environment), args);
        if (commandLine.Errors.Count == 0 && environment.Interactive && commandLine.WritesJson)
        {
            // JSON gets no live display, even on a terminal: the document is all that standard output receives.
            environment = environment with { Interactive = false };
            commandLine = ParsedCommandLine.Parse(CreateRootCommand(environment), args);
        }
        if (commandLine.Errors.Count > 0)
        {
            WriteUsageErrors(environment.Error, commandLine.Errors);
            return ExitCodes.Usage;
        }
        try
        {
            return commandLine.Result.Invoke(new InvocationConfiguration
            {
                Output = environment.Output,
                Error = environment.Error,
                EnableDefaultExceptionHandler = false,
            });
        }
        catch (CliException exception)
        {
            environment.Error.WriteLine("fastpt: " + exception.Message);
            return exception.ExitCode;
        }
    }

    /// <summary>Writes parse errors the way every usage error is shown, with a pointer to the help.</summary>
    public static void WriteUsageErrors(TextWriter error, IEnumerable<string> errors)
    {
        ArgumentNullException.ThrowIfNull(error);
        ArgumentNullException.ThrowIfNull(errors);
        foreach (string message in errors) error.WriteLine("fastpt: " + message);
        error.WriteLine("Run 'fastpt --help' (or 'fastpt COMMAND --help') for usage.");
    }

    /// <summary>The command tree, built in this one place: the root runs the main job; subcommands run, list,
    /// replay, dump and trace. Options shared by several commands come from <see cref="CommonOptions"/>; an option
    /// written before a subcommand applies to it when it has an option of that name
    /// (<see cref="ParsedCommandLine"/>). A new command is one factory plus one line here.</summary>
    public static Command CreateRootCommand(CliEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        // A plain command rather than RootCommand, whose name is the host executable's ("FastPt.Cli" or "testhost").
        var root = new Command("fastpt",
            "FastPt: simulated Linux x86-64 page tables. With no command, boots a machine and runs every scenario "
            + "(exit code 0 only if every check passes). Options may come before or after the command they apply to.")
        {
            CreateHelpOption(environment.Width),
            new VersionOption(),
        };
        ScenarioCommands.ConfigureMainJob(root, environment);
        root.Add(ScenarioCommands.CreateRun(environment));
        root.Add(ScenarioCommands.CreateList(environment));
        root.Add(ReplayCommand.Create(environment));
        root.Add(DumpCommand.Create(environment));
        root.Add(MapCommand.Create(environment));
        root.Add(TraceCommand.Create(environment));
        root.Add(KernelCheckCommand.Create(environment));
        root.Add(HugeTlbCommand.Create(environment));
        root.Add(KPageFlagsCommand.Create(environment));
        root.Add(PagemapCommand.Create(environment));
        return root;
    }

    /// <summary>--help (recursive, so every command has it), wrapped to the output's width, with the exit codes after
    /// the default sections.</summary>
    private static HelpOption CreateHelpOption(int width)
    {
        var help = new HelpOption();
        if (help.Action is HelpAction standard)
        {
            standard.MaxWidth = Math.Max(width, CliTerminal.MinimumWidth);
            help.Action = new HelpWithExitCodes(standard);
        }
        return help;
    }

    /// <summary>The standard help, then the exit codes.</summary>
    private sealed class HelpWithExitCodes(HelpAction standard) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            int exitCode = standard.Invoke(parseResult);
            TextWriter output = parseResult.InvocationConfiguration.Output;
            output.WriteLine("Exit codes:");
            foreach ((int code, string meaning) in ExitCodes.Meanings) WriteWrapped(output, $"  {code}  ", meaning, standard.MaxWidth);
            output.WriteLine();
            return exitCode;
        }

        /// <summary>Writes <paramref name="lead"/> and <paramref name="text"/> wrapped at spaces to
        /// <paramref name="width"/>, continuation lines indented under the text.</summary>
        private static void WriteWrapped(TextWriter output, string lead, string text, int width)
        {
            var line = new System.Text.StringBuilder(lead);
            int start = lead.Length;
            foreach (string word in text.Split(' '))
            {
                if (line.Length > start && line.Length + 1 + word.Length > width)
                {
                    output.WriteLine(line.ToString());
                    line.Clear().Append(' ', start);
                }
                if (line.Length > start) line.Append(' ');
                line.Append(word);
            }
            output.WriteLine(line.ToString());
        }
    }
}
