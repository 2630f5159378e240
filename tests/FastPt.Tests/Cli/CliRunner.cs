using System.IO;
using FastPt.Cli;

namespace FastPt.Tests.Cli;

/// <summary>Runs the fastpt command in-process with captured output.</summary>
internal static class CliRunner
{
    public sealed record Result(int ExitCode, string Output, string Error);

    public static Result Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exitCode = Program.Run(args, output, error);
        return new Result(exitCode, output.ToString(), error.ToString());
    }
}
