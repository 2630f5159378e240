using System.IO;
using Spectre.Console;

namespace FastPt.Cli.Rendering;

/// <summary>Builds Spectre consoles over any <see cref="TextWriter"/>: colours and live progress for a terminal,
/// plain text of a fixed width for files, pipes and tests.</summary>
internal static class ConsoleFactory
{
    private const int RedirectedWidth = 120;

    public static IAnsiConsole Create(TextWriter writer, bool interactive)
    {
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = interactive ? InteractionSupport.Yes : InteractionSupport.No,
        });
        if (!interactive) console.Profile.Width = RedirectedWidth;
        return console;
    }
}
