var x = <a><!--one--><b/><!--two--></a>;
print(x.comments().length());
