"""From files to clean articles and passages: readers, boilerplate removal, de-duplication, chunking."""
