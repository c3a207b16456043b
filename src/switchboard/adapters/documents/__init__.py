"""Reading documents: the text of uploaded PDF, DOCX, plain text and Markdown files."""
