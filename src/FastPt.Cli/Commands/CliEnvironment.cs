using System.IO;
using FastPt.Cli.Rendering;
using Spectre.Console;

namespace FastPt.Cli.Commands;

/// <summary>Where a command writes, and whether a person is watching a terminal (which enables live progress).</summary>
/// <param name="Output">Standard output.</param>
/// <param name="Error">Standard error.</param>
/// <param name="Interactive">True when output goes to a terminal.</param>
internal sealed record CliEnvironment(TextWriter Output, TextWriter Error, bool Interactive)
{
    /// <summary>A Spectre console over <see cref="Output"/>.</summary>
    public IAnsiConsole CreateConsole() => ConsoleFactory.Create(Output, Interactive);
}
