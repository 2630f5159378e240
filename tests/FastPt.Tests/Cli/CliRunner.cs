using System.IO;
using FastPt.Cli;
using FastPt.Cli.Commands;

namespace FastPt.Tests.Cli;

/// <summary>Runs the fastpt command in-process with captured output.</summary>
internal static class CliRunner
{
    public sealed record Result(int ExitCode, string Output, string Error);

    /// <summary>As redirected output of the default width (120 columns).</summary>
    public static Result Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exitCode = Program.Run(args, output, error);
        return new Result(exitCode, output.ToString(), error.ToString());
    }

    /// <summary>As output <paramref name="width"/> columns wide, to a terminal when <paramref name="interactive"/>.</summary>
    public static Result RunOn(int width, bool interactive, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exitCode = Program.Run(args, output, error, new CliTerminal(interactive, width));
        return new Result(exitCode, output.ToString(), error.ToString());
    }
}
